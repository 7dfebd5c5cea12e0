"""The ``fraiday`` command: the API server, the task workers and the operations commands."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fraiday")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
