"""One private-daemon image session per machine at a time.

Each session compares the host after its daemon stops with the host before it started, and removes the
files dockerd writes outside its roots (``/run/docker``, ``/etc/docker/key.json``) if they were not
there before. Two sessions at once would see each other's data-root mount and cgroups as left behind
(both fail), and the first to stop would remove those files from under the other's running daemon.
"""

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.image.base_image import CACHE_DIR

LOCK = CACHE_DIR / "session.lock"  # beside the cached base the sessions share: no new place on the host


@contextmanager
def one_at_a_time(say: Callable[[str], None], lock: Path = LOCK) -> Iterator[None]:
    """Hold the machine's image-session lock (waiting for it, and saying so, if another session holds it)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another nox -s image on this machine to finish (lock: {lock})")
            fcntl.flock(held, fcntl.LOCK_EX)
        yield  # the kernel releases the lock when the file closes, or when the process dies
