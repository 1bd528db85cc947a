"""Benchmarks: `make bench` runs them all; each prints throughput and peak memory beside a naive baseline."""
