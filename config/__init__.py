"""Configuration shared by every fraiday process: settings, the Redis URL builder and logging.

This package imports nothing else of fraiday's, so every other package can depend on it.
"""

from config.errors import ConfigError
from config.settings import Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
