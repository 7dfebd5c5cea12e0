"""Build the Dockerfile as users do, timed, with the host's CA bundle handed to pip as a build secret."""

import time
from dataclasses import dataclass
from pathlib import Path

from tests.image.docker_cli import DockerCli

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class Build:
    tag: str
    seconds: float
    size_bytes: int


def build_argv(tag: str, context: Path, base: str | None, ca_bundle: Path | None) -> list[str]:
    # Host networking: the private daemon has no bridge, and pip reaches the index as the host does.
    argv = ["build", "--network=host", "--progress=plain", "--tag", tag]
    if base is not None:
        argv += ["--build-arg", f"PYTHON_IMAGE={base}"]
    if ca_bundle is not None:
        argv += ["--secret", f"id=ca-bundle,src={ca_bundle}"]
    return [*argv, str(context)]


def build(docker: DockerCli, tag: str, context: Path, base: str | None, log: Path) -> Build:
    ca_bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    started = time.monotonic()
    docker.run_logged(*build_argv(tag, context, base, ca_bundle), log=log, timeout=900)
    seconds = time.monotonic() - started
    size = int(docker.run("image", "inspect", "--format", "{{.Size}}", tag).strip())
    return Build(tag, seconds, size)
