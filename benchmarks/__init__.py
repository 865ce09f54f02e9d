"""Railcast benchmarks: `make bench` (or `python -m benchmarks [NAME ...]`)."""
