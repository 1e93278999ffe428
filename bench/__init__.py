"""Benchmark scripts (run as `python -m bench.<name>` or `python bench/<name>.py`); importable for the smoke tests."""
