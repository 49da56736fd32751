"""Evaluation protocols: splits, windows and metrics, as published benchmarks define them."""
