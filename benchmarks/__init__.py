"""Benchmarks of the vanilla RNN layers: `python -m benchmarks --help`."""
