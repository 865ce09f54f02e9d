"""Drift and performance monitoring (`monitor`): the Evidently adapter, the drift rules, segments, daily
skill and the monitor's alert message. Domain-free platform."""
