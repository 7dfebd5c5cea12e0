"""Metrics exposition for the server and the workers (the metrics themselves are in handlers.metrics)."""
