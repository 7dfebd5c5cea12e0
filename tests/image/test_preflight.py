"""The image session on a machine that cannot run its dockerd: one line saying why, and a failure."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.image.preflight import EXISTING_DOCKER_VARIABLE, has_cgroups, why_no_daemon

REPO = Path(__file__).resolve().parents[2]
CGROUP_V1 = "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
CGROUP_V2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
NO_CGROUPS = "proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n"


@pytest.mark.parametrize(("mounts", "expected"), [(CGROUP_V1, True), (CGROUP_V2, True), (NO_CGROUPS, False)])
def test_cgroups_v1_or_v2_are_enough(mounts: str, expected: bool) -> None:
    assert has_cgroups(mounts) is expected


def test_each_reason_is_one_line_naming_the_way_out() -> None:
    for reason in (why_no_daemon(uid=1000, mounts=CGROUP_V2), why_no_daemon(uid=0, mounts=NO_CGROUPS)):
        assert reason is not None
        assert "\n" not in reason
        assert EXISTING_DOCKER_VARIABLE in reason
    assert "needs root, running as uid 1000" in str(why_no_daemon(uid=1000, mounts=CGROUP_V2))
    assert "no cgroup filesystem" in str(why_no_daemon(uid=0, mounts=NO_CGROUPS))


def test_as_a_user_the_session_fails_with_one_line(tmp_path: Path) -> None:
    # The real entry point as an unprivileged user; Debian's python3 because the venv's may sit under
    # /root, which such a user cannot read. The preflight needs nothing outside the standard library.
    argv = ["/usr/bin/python3", "-m", "tests.image"]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("nox -s image: cannot run its own dockerd: needs root, running as uid ")
