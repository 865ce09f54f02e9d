"""Departure-board simulator: network, ground truth, boards, server and bulk path."""
