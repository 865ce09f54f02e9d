"""Railcast: predict train arrival delays from departure-board snapshots."""
