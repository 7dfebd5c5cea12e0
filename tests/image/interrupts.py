"""Ctrl+C or a CI timeout's SIGTERM during ``nox -s image`` still leaves the host as it was found.

Two things would otherwise defeat the session's ``finally``: a second signal (the user's second Ctrl+C,
nox's follow-up SIGTERM) landing while the daemon is being stopped aborts the cleanup half-way, leaving
the data-root tmpfs mounted and the daemon's cgroups and files behind; and the smoke pytest, killed
outright by ``subprocess.run`` when its parent is interrupted, never tears down the Redis and FerretDB
it started, which then run on as orphans. And a session started with SIGINT ignored (a background job
of a script, as CI runners start them) would hand that to the smoke pytest, which then could not be
interrupted into its teardown at all.

SIGKILL allows nothing of the sort; the next session cleans up after it (``leftovers``).
"""

import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TEARDOWN_SECONDS = 60.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_stop_signals() -> None:
    """SIGTERM (a CI timeout, an operator's kill) and SIGINT both unwind the session through its cleanup.

    SIGINT is set even if the session was started with it ignored: children then get it at its
    default, and pytest turns it into a teardown.
    """
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
