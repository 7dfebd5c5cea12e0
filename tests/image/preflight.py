"""Can this machine run the image session's own dockerd? One line saying why not, never a silent pass."""

import os
import shutil
from pathlib import Path

EXISTING_DOCKER_VARIABLE = "FRAIDAY_IMAGE_DOCKER_HOST"
HINT = f"(on a laptop, set {EXISTING_DOCKER_VARIABLE} to use an existing Docker; see README, Deployment)"


def has_cgroups(mounts: str) -> bool:
    """A cgroup (v1) or cgroup2 filesystem is mounted: runc cannot start a container without one."""
    return any(
        line.split()[2] in ("cgroup", "cgroup2") for line in mounts.splitlines() if len(line.split()) > 2
    )


def why_no_daemon(uid: int | None = None, mounts: str | None = None) -> str | None:
    uid = os.geteuid() if uid is None else uid
    if uid != 0:
        return f"nox -s image: cannot run its own dockerd: needs root, running as uid {uid} {HINT}"
    mounts = Path("/proc/mounts").read_text() if mounts is None else mounts
    if not has_cgroups(mounts):
        return f"nox -s image: cannot run its own dockerd: no cgroup filesystem is mounted {HINT}"
    if shutil.which("apt-get") is None:
        return f"nox -s image: cannot install docker.io and debootstrap: no apt-get on this machine {HINT}"
    return None
