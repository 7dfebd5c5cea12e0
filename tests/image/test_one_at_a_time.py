"""A second image session waits for the first, saying so, instead of tripping over its daemon."""

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.image.one_at_a_time import one_at_a_time

REPO = Path(__file__).resolve().parents[2]

SECOND = textwrap.dedent("""
    import pathlib, sys
    from tests.image.one_at_a_time import one_at_a_time
    with one_at_a_time(lambda line: print(line, flush=True), pathlib.Path(sys.argv[1])):
        print("running", flush=True)
""")


def test_the_second_session_waits_until_the_first_is_done(tmp_path: Path) -> None:
    lock = tmp_path / "session.lock"
    said: list[str] = []
    with one_at_a_time(said.append, lock):
        second = subprocess.Popen(
            [sys.executable, "-c", SECOND, str(lock)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        assert second.stdout is not None
        first_line = second.stdout.readline()
        assert first_line.startswith("waiting for another nox -s image on this machine to finish")
    out, _ = second.communicate(timeout=30)
    assert out == "running\n"
    assert said == []
