"""The fast tier keeps its promise: the README's ``pytest -m unit`` starts no process, opens no server."""

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tests.readme.markdown import commands, fenced_blocks, read, section
from tests.tiers import SERVER_FIXTURES, spawns

REPO = Path(__file__).resolve().parent.parent

# Loaded by the child interpreter before pytest: every spawn or listening socket during a test is
# written down with the test that caused it. Imports are left out: croniter (platform.architecture
# runs `file`) and trio (ctypes.util.find_library runs `ldconfig`) probe the host once at import.
AUDIT = """
import os, sys
_log = open(os.environ["FRAIDAY_TIER_AUDIT"], "a", buffering=1)
_spawns = {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.system", "os.exec", "pty.spawn"}
def _hook(event, args):
    test = os.environ.get("PYTEST_CURRENT_TEST")
    if test and (event in _spawns or event == "socket.listen"):
        _log.write(f"{event} {args[:2]!r} in {test}\\n")
sys.addaudithook(_hook)
"""


def readme_unit_tier_arguments() -> list[str]:
    """The arguments the README's Quick start gives ``.venv/bin/pytest`` for the fast tier."""
    quick_start = section(read("README.md"), "## Quick start")
    found = [
        command
        for block in fenced_blocks(quick_start, "bash")
        for command in commands(block)
        if command.startswith(".venv/bin/pytest -m unit")
    ]
    assert len(found) == 1, found
    program, *arguments = shlex.split(found[0], comments=True)
    assert program == ".venv/bin/pytest"
    return arguments


def test_the_unit_tier_starts_no_process_and_no_server(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(AUDIT)
    audit_log = tmp_path / "audit.log"
    env = {
        **{name: value for name, value in os.environ.items() if name != "PYTEST_CURRENT_TEST"},
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
        "FRAIDAY_TIER_AUDIT": str(audit_log),
    }
    started = time.monotonic()
    run = subprocess.run(
        # This run's own pytest stands for .venv/bin/pytest (nox runs the suite from another venv).
        [sys.executable, "-m", "pytest", *readme_unit_tier_arguments(), "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and " deselected" in run.stdout, run.stdout[-500:]
    events = audit_log.read_text() if audit_log.exists() else ""
    assert events == "", f"the unit tier started processes or servers:\n{events}"
    assert elapsed < 30, f"the unit tier took {elapsed:.1f}s (the promise is under 30 s)"


def test_a_test_reaching_a_server_through_other_fixtures_is_not_unit() -> None:
    """``redis_conn`` asks for ``redis_url``, which asks for ``redis_server``: out of the tier, though
    the module itself spawns nothing; a module that imports a spawning helper is out whole."""
    module = "tests/tasks/test_queue_operations.py"
    assert not spawns(REPO / module)
    assert spawns(REPO / "tests" / "worker" / "test_pool.py")  # through tests.processes
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "unit",
            "-q",
            "--collect-only",
            "-p",
            "no:cacheprovider",
            module,
        ],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "no tests collected" in collected.stdout or "0/3 tests collected" in collected.stdout, (
        collected.stdout[-1000:]
    )
    assert {"redis_server", "mongo_server"} == SERVER_FIXTURES
