"""The commands a Markdown document tells its reader to run, read from the document itself.

Tests run these instead of copies, so a README or a doc that drifts from what works breaks a test.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(?P<language>[\w-]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


def section(text: str, heading: str) -> str:
    """The text under a ``## heading`` up to the next heading of the same or a higher level.

    Lines inside fenced blocks are not headings (a bash comment starts with ``#`` too).
    """
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines(keepends=True)
    start = lines.index(heading + "\n")
    in_fence = False
    for end in range(start + 1, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[start:end])
    return "".join(lines[start:])


def fenced_blocks(text: str, language: str) -> list[str]:
    return [match["body"] for match in FENCE.finditer(text) if match["language"] == language]


def commands(block: str) -> list[str]:
    """A bash block's commands as the shell reads them: continuations joined, comment lines dropped."""
    found: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line + "\n"
        if not line.endswith("\\"):
            found.append(pending.rstrip("\n"))
            pending = ""
    if pending:
        found.append(pending.rstrip("\n"))
    return found


def read(path: str) -> str:
    return (ROOT / path).read_text()
