"""The ``fraiday`` command: the API server, the task workers and the operations commands."""

from config.version import VERSION

__version__ = VERSION
