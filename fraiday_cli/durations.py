"""Durations as people type them on a command line: ``90``, ``30s``, ``5m``, ``2h``, ``7d``."""

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> timedelta:
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 90, 30s, 5m, 2h or 7d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])
