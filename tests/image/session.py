"""``nox -s image``: from a bare machine to a built, smoke-tested image, and back to a bare machine.

Steps: check the machine can run a daemon (one line and exit 1 if not), install docker.io and
debootstrap, start a private dockerd, import the Debian base (bootstrapped once, then cached), build
the Dockerfile, run ``tests/image/smoke`` against the image, stop the daemon, and fail if the host is
not as it was. With FRAIDAY_IMAGE_DOCKER_HOST set it uses that Docker instead and builds on the
Dockerfile's default base (pulled from Docker Hub): the way to run it on a laptop.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.image import base_image, leftovers, packages
from tests.image.build import Build, build
from tests.image.daemon import PrivateDockerd
from tests.image.docker_cli import DockerCli
from tests.image.interrupts import on_stop_signals, run_to_teardown, shielded
from tests.image.one_at_a_time import one_at_a_time
from tests.image.preflight import EXISTING_DOCKER_VARIABLE, why_no_daemon

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / ".fraiday" / "image"
TAG = "fraiday:smoke"


def say(message: str) -> None:
    print(f"image: {message}", file=sys.stderr, flush=True)


def smoke(docker: DockerCli, pytest_args: list[str]) -> int:
    measurements = LOGS / "measurements.json"
    measurements.unlink(missing_ok=True)
    env = {
        **os.environ,
        "IMAGE_UNDER_TEST": TAG,
        "IMAGE_DOCKER": docker.binary,
        "DOCKER_HOST": docker.host,
        "IMAGE_MEASUREMENTS": str(measurements),
    }
    argv = [sys.executable, "-m", "pytest", "tests/image/smoke", "-p", "no:cacheprovider", *pytest_args]
    code = run_to_teardown(argv, REPO, env)
    if measurements.exists():
        for name, value in json.loads(measurements.read_text()).items():
            say(f"{name}: {value}")
    return code


def build_and_smoke(docker: DockerCli, base: str | None, pytest_args: list[str]) -> int:
    result: Build = build(docker, TAG, REPO, base, LOGS / "build.log")
    say(f"built {TAG} on {base or 'the Dockerfile default base'} in {result.seconds:.1f} s, "
        f"{result.size_bytes / 1e6:.0f} MB")  # fmt: skip
    return smoke(docker, pytest_args)


def with_private_daemon(pytest_args: list[str]) -> int:
    started = time.monotonic()
    with shielded():
        for line in leftovers.clean_up():
            say(f"cleaning up: {line}")
    installed = packages.ensure()
    if installed:
        say(f"installed {', '.join(installed)} in {time.monotonic() - started:.1f} s")
    daemon = PrivateDockerd.fresh(LOGS / "dockerd.log")
    code = 1
    try:
        started = time.monotonic()
        docker = daemon.start()
        say(f"private dockerd answers after {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        built = base_image.load(docker, LOGS / "debootstrap.log")
        how = "bootstrapped from Debian packages and cached" if built else "imported from the cache"
        say(f"base {base_image.TAG} {how} in {time.monotonic() - started:.1f} s")
        code = build_and_smoke(docker, base_image.TAG, pytest_args)
    finally:
        stopping = time.monotonic()
        with shielded():
            left = daemon.stop()
        for line in left:
            say(f"host not as found: {line}")
        if not left:
            say(f"private dockerd stopped in {time.monotonic() - stopping:.1f} s; host as found")
    return 1 if left else code


def main(pytest_args: list[str]) -> int:
    existing = os.environ.get(EXISTING_DOCKER_VARIABLE)
    reason = None if existing else why_no_daemon()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    LOGS.mkdir(parents=True, exist_ok=True)
    on_stop_signals()
    started = time.monotonic()
    try:
        if existing:
            code = build_and_smoke(DockerCli(shutil.which("docker") or "docker", existing), None, pytest_args)
        else:
            with one_at_a_time(say):
                code = with_private_daemon(pytest_args)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:  # DockerError, DaemonError, apt, debootstrap
        say(f"error: {exc}")
        code = 1
    except KeyboardInterrupt:  # cleaned up on the way out, like SIGTERM
        say("interrupted")
        code = 130
    except SystemExit as exc:  # SIGTERM: cleaned up on the way out too
        say("terminated")
        code = exc.code if isinstance(exc.code, int) else 1
    say(f"{'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s (logs in {LOGS})")
    return code
