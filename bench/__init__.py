"""Benchmarks: each prints (and with ``--out``, writes) one JSON result. Run via ``driftline bench``."""
