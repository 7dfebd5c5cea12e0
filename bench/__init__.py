"""Benchmarks: fraiday beside plain RQ and Celery on the same Redis, in one run (``nox -s bench``)."""
