"""An interrupted image session lets the smoke pytest tear down, even when the signal comes twice."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.processes import wait_for

REPO = Path(__file__).resolve().parents[2]

# The smoke pytest's stand-in: ready, then on its interrupt a teardown that takes a while.
CHILD = textwrap.dedent("""
    import pathlib, sys, time
    out = pathlib.Path(sys.argv[1])
    (out / "ready").write_text("")
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        time.sleep(1)  # a second signal now would cut this short
        (out / "torn-down").write_text("")
        raise SystemExit(2)
""")

# The session's main, as far as signals go: SIGTERM exits, and cleanup runs in `finally`.
PARENT = textwrap.dedent("""
    import pathlib, signal, sys, time
    from tests.image.interrupts import on_stop_signals, run_to_teardown, shielded
    out = pathlib.Path(sys.argv[1])
    on_stop_signals()
    try:
        run_to_teardown([sys.executable, "-c", sys.argv[2], str(out)], out, {})
    finally:
        with shielded():
            time.sleep(1)  # stopping the daemon
            (out / "cleaned-up").write_text("")
""")


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("signum", "to_group", "sigint_ignored"),
    [(signal.SIGTERM, False, False), (signal.SIGINT, True, False), (signal.SIGTERM, True, True)],
    ids=["sigterm-to-the-session", "ctrl-c-in-a-terminal", "sigterm-to-a-background-job-of-a-script"],
)
def test_a_second_signal_cuts_neither_the_smoke_teardown_nor_the_cleanup(
    tmp_path: Path, signum: signal.Signals, to_group: bool, sigint_ignored: bool
) -> None:
    # A script's `cmd &` starts cmd with SIGINT ignored; so does a CI runner that starts jobs that way.
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path), CHILD],
        cwd=REPO,
        start_new_session=True,
        preexec_fn=ignore_sigint if sigint_ignored else None,  # noqa: PLW1509 (no threads here)
    )
    try:
        wait_for((tmp_path / "ready").exists, 30, what="the child to start")
        for _ in range(2):
            if to_group:
                os.killpg(parent.pid, signum)
            else:
                parent.send_signal(signum)
        wait_for((tmp_path / "torn-down").exists, 10, what="the child's teardown")
        assert parent.wait(30) != 0
        assert (tmp_path / "cleaned-up").exists()
    finally:
        parent.kill()
        parent.wait()
