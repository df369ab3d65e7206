"""The benchmark harness: run `python3 bench/run.py`; not part of the test suite."""
