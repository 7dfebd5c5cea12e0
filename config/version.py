"""The installed version, for ``fraiday --version`` and the User-Agent of outgoing requests."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("fraiday")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0+unknown"
