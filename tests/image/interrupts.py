"""Ctrl+C or a CI timeout's SIGTERM during ``nox -s image`` still leaves the host as it was found.

Two things would otherwise defeat the session's ``finally``: a second signal (the user's second Ctrl+C,
nox's follow-up SIGTERM) landing while the daemon is being stopped aborts the cleanup half-way, leaving
the data-root tmpfs mounted and the daemon's cgroups and files behind; and the smoke pytest, killed
outright by ``subprocess.run`` when its parent is interrupted, never tears down the Redis and FerretDB
it started, which then run on as orphans.
"""

import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TEARDOWN_SECONDS = 60.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def shielded() -> Iterator[None]:
    """Cleanup runs to its end: SIGINT and SIGTERM are ignored until it is done (it is bounded)."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_to_teardown(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> int:
    """Run ``argv`` (a pytest); if we are interrupted, interrupt it once and let it tear down, then re-raise.

    The child has a session of its own, so a terminal's Ctrl+C reaches it only through us, exactly once
    (a second SIGINT would interrupt pytest's teardown too).
    """
    child = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True)
    try:
        return child.wait()
    except BaseException:
        with shielded():
            child.send_signal(signal.SIGINT)
            try:
                child.wait(TEARDOWN_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        raise
