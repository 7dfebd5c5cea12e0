"""The next image session cleans up after one that was SIGKILLed: processes, mounts, cgroups, files.

The killed session's daemon tree is played by real processes laid out as dockerd's are (a pid file, an
``--exec-root`` on the command line, a child that lives as long as its parent, a shim in a session of
its own, a container's process in the daemon's cgroup parent), and its smoke pytest by a process that
needs its SIGINT to tear down, while the daemon still runs. Mounts and cgroups need root.
"""

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image import leftovers
from tests.image.host_state import CGROUP_ROOT, mount_points
from tests.processes import wait_for

AS_ROOT = os.geteuid() == 0
CGROUP = CGROUP_ROOT / "pids"

DOCKERD = textwrap.dedent("""
    import os, subprocess, sys, time
    containerd = "import os, time\\nwhile os.getppid() == int(os.environ['PARENT']): time.sleep(0.05)"
    subprocess.Popen([sys.executable, "-c", containerd], cwd=sys.argv[2], env={"PARENT": str(os.getpid())})
    time.sleep(600)
""")

SMOKE = textwrap.dedent("""
    import os, pathlib, sys, time
    out = pathlib.Path(sys.argv[2])
    (out / "smoke-ready").write_text("")
    try:
        time.sleep(600)
    except KeyboardInterrupt:
        daemon_alive = os.path.exists(f"/proc/{sys.argv[3]}")
        (out / "smoke-torn-down").write_text(str(daemon_alive))
""")

SLEEP = "import time; time.sleep(600)"


def mount_tmpfs(point: Path) -> None:
    point.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)], check=True)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def test_a_killed_sessions_daemon_smoke_run_mounts_cgroups_and_files_are_undone(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    root = tmp_path / f"fraiday-image-{uuid.uuid4().hex[:8]}"
    exec_root = root / "exec"
    (exec_root / "shim").mkdir(parents=True)
    dockerd = subprocess.Popen(
        [sys.executable, "-c", DOCKERD, f"--exec-root={exec_root}", str(exec_root)], start_new_session=True
    )
    started.append(dockerd)
    (root / "docker.pid").write_text(f"{dockerd.pid}\n")
    wait_for(lambda: len(Path(f"/proc/{dockerd.pid}/task/{dockerd.pid}/children").read_text().split()), 10)
    shim = subprocess.Popen([sys.executable, "-c", SLEEP], cwd=exec_root / "shim", start_new_session=True)
    started.append(shim)
    smoke = subprocess.Popen(
        [sys.executable, "-c", SMOKE, "tests/image/smoke", str(tmp_path), str(dockerd.pid)],
        env={**os.environ, "DOCKER_HOST": f"unix://{root}/docker.sock"},
        start_new_session=True,
    )
    started.append(smoke)
    daemon_files = (tmp_path / "key.json", tmp_path / "run-docker")
    daemon_files[1].mkdir()  # there before the killed session started
    (root / "host-files-before").write_text(f"{daemon_files[1]}\n")
    daemon_files[0].write_text("{}")  # written by its dockerd
    container = None
    if AS_ROOT:
        mount_tmpfs(root / "data")
        mount_tmpfs(exec_root / "netns")
        (CGROUP / root.name / "ctr").mkdir(parents=True)
        container = subprocess.Popen([sys.executable, "-c", SLEEP], start_new_session=True)
        started.append(container)
        (CGROUP / root.name / "ctr" / "cgroup.procs").write_text(str(container.pid))
    rootfs_parent = tmp_path / "var-tmp"
    work = rootfs_parent / "fraiday-rootfs-abc"
    (work / "rootfs").mkdir(parents=True)
    if AS_ROOT:
        mount_tmpfs(work / "rootfs" / "proc")
    wait_for((tmp_path / "smoke-ready").exists, 30, what="the smoke stand-in")

    said = list(leftovers.clean_up(tmp_path, rootfs_parent, daemon_files))

    assert said == [
        f"{root} of a killed session (dockerd, 1 smoke pytest)",
        f"{work} of a killed debootstrap",
    ]
    assert (tmp_path / "smoke-torn-down").read_text() == "True"  # torn down while the daemon still ran
    for process in (smoke, dockerd, shim, *([container] if container else [])):
        assert process.wait(5) is not None
    assert leftovers.session_roots(tmp_path) == []
    assert not work.exists()
    assert [p for p in mount_points() if p.startswith(f"{tmp_path}/")] == []
    assert not (CGROUP / root.name).exists()
    assert not daemon_files[0].exists()
    assert daemon_files[1].is_dir()
    assert list(leftovers.clean_up(tmp_path, rootfs_parent, daemon_files)) == []


def test_a_pid_file_naming_someone_elses_process_is_not_followed(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    root = tmp_path / "fraiday-image-reused"
    root.mkdir()
    bystander = subprocess.Popen([sys.executable, "-c", SLEEP])
    started.append(bystander)
    (root / "docker.pid").write_text(str(bystander.pid))  # the dead dockerd's pid, since reused

    said = list(leftovers.clean_up(tmp_path, tmp_path / "none", ()))

    assert said[0] == f"{root} of a killed session (nothing running)"
    assert bystander.poll() is None
    assert not root.exists()
    bystander.send_signal(signal.SIGTERM)
