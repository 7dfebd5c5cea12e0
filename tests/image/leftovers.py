"""What an image session killed outright left on the host, undone by the next session before it starts.

SIGKILL (a CI runner's hard timeout, the OOM killer) runs no ``finally``: the session's dockerd,
containerd and containers run on in sessions of their own, its data-root stays mounted, its cgroups
and the files dockerd writes outside its roots stay, and its smoke pytest runs on against them. The
next session holds the machine's lock (``one_at_a_time``), so every session root it finds belongs to a
session that is gone: it lets that smoke pytest tear down, then stops the daemon and removes the rest
as a session does with its own. The same for a Debian base whose debootstrap was cut short.
"""

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from tests.harness.memory import process_tree
from tests.image import base_image
from tests.image import daemon as private_daemon
from tests.image.host_state import DAEMON_FILES
from tests.image.interrupts import TEARDOWN_SECONDS

SMOKE_TESTS = b"tests/image/smoke"


def smoke_runs_against(root: Path) -> list[int]:
    """The smoke pytest of the session that ran its daemon in ``root`` (found by its DOCKER_HOST)."""
    docker_host = f"DOCKER_HOST=unix://{root}/docker.sock".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if SMOKE_TESTS not in (entry / "cmdline").read_bytes():
                continue
            if docker_host in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _interrupt(pid: int) -> None:
    """As the session does when it is interrupted: one SIGINT, time to tear down, then SIGKILL."""
    tree = process_tree(pid)
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    if not private_daemon.gone_within(pid, TEARDOWN_SECONDS):
        for member in tree:
            with suppress(ProcessLookupError):
                os.kill(member, signal.SIGKILL)


def session_roots(parent: Path = private_daemon.ROOT_PARENT) -> list[Path]:
    return sorted(path for path in parent.glob(f"{private_daemon.ROOT_PREFIX}*") if path.is_dir())


def clean_up(
    parent: Path = private_daemon.ROOT_PARENT,
    rootfs_parent: Path = base_image.WORK_PARENT,
    daemon_files: tuple[Path, ...] = DAEMON_FILES,
) -> Iterator[str]:
    """Undo what killed sessions left; yield one line per thing found (nothing on a clean host)."""
    for root in session_roots(parent):
        smoke = smoke_runs_against(root)
        daemon = private_daemon.PrivateDockerd.left_by_a_killed_session(root, daemon_files)
        running = ", ".join(
            [*(["dockerd"] if daemon.pid else []), *([f"{len(smoke)} smoke pytest"] if smoke else [])]
        )
        yield f"{root} of a killed session ({running or 'nothing running'})"
        for pid in smoke:
            _interrupt(pid)
        if daemon.files_before is None:
            yield f"{root}: no record of the host before it, so {', '.join(map(str, daemon_files))} stay"
        daemon.tear_down()
        for pid in private_daemon.processes_under(root):  # still there: the tear-down could not stop it
            yield f"{root}: process {pid} would not stop"
    for work in sorted(rootfs_parent.glob(f"{base_image.WORK_PREFIX}*")):
        yield f"{work} of a killed debootstrap"
        for pid in private_daemon.processes_under(work):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        base_image.unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
