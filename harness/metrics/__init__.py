"""Latency statistics and text accuracy metrics."""
