"""A fraiday process's JSON log, read the way a log pipeline would: one object per line."""

import json
from typing import Any


def json_log_lines(output: str) -> list[dict[str, Any]]:
    """Every JSON line of ``output``; anything else (a traceback, a library's plain print) is skipped."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
