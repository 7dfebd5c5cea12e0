"""Debian's docker.io and debootstrap, installed once (a second run only checks) without starting services.

docker.io's maintainer script would start the system's Docker daemon, which creates the docker0 bridge
and iptables chains on the host. A ``policy-rc.d`` that answers 101 ("action forbidden") keeps it from
doing so; machines built from Docker images usually have one already, and one written here is removed
again after the install.
"""

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

PACKAGES = ("docker.io", "debootstrap")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
# Other processes on a shared machine may hold apt's lock for a while; wait rather than fail.
LOCK_WAIT = ("-o", "DPkg::Lock::Timeout=600")


def missing(packages: Sequence[str]) -> list[str]:
    absent = []
    for package in packages:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        )
        if status.stdout.strip() != "install ok installed":
            absent.append(package)
    return absent


@contextmanager
def services_kept_from_starting(policy: Path = POLICY_RC_D) -> Iterator[None]:
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def _apt_update() -> None:
    for attempt in range(20):
        result = subprocess.run(
            ["apt-get", "update", "-qq"], check=False, env=APT_ENV, capture_output=True, text=True
        )
        if result.returncode == 0:
            return
        if "lock" not in result.stderr or attempt == 19:
            raise RuntimeError(f"apt-get update failed: {result.stderr.strip()[-1000:]}")
        time.sleep(3)


def ensure(packages: Sequence[str] = PACKAGES) -> list[str]:
    """Install what is missing; return what was installed (empty on a machine that has them all)."""
    absent = missing(packages)
    if not absent:
        return []
    _apt_update()
    with services_kept_from_starting():
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *LOCK_WAIT, *absent],
            check=False,
            env=APT_ENV,
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise RuntimeError(f"apt-get install {' '.join(absent)} failed: {result.stderr.strip()[-1000:]}")
    return absent
