"""The default CMD: the API server on a read-only root filesystem, /tmp its only writable path."""

import time
from collections.abc import Iterator

import pytest
import requests

from tests.harness.memory import pss_mib
from tests.harness.process import free_port
from tests.image.docker_cli import DockerCli
from tests.image.smoke.containers import Container
from tests.processes import wait_for


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server(
    docker: DockerCli, image: str, runtime_env: dict[str, str], measurements: dict[str, str]
) -> Iterator[tuple[Container, str]]:
    port = free_port()
    started = time.monotonic()
    container = Container.start(docker, image, [], {**runtime_env, "PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/ping"), 60, what="/ping on the server container")
    except AssertionError:
        pytest.fail(f"the server did not answer /ping:\n{container.logs()[-3000:]}")
    measurements["server: docker run to first 200 on /ping"] = f"{time.monotonic() - started:.2f} s"
    yield container, base
    container.remove()


def test_default_command_serves_ping_and_health_read_only(server: tuple[Container, str]) -> None:
    container, base = server
    config = container.inspect()
    assert config["Config"]["Cmd"] == ["server"]
    assert config["HostConfig"]["ReadonlyRootfs"] is True
    assert requests.get(f"{base}/ping", timeout=5).json() == {"status": "ok"}
    health = requests.get(f"{base}/health", timeout=5)
    assert health.status_code == 200, health.text
    assert health.json()["dependencies"] == {"redis": "ok", "mongodb": "ok"}


def test_metrics_are_written_under_tmp(server: tuple[Container, str]) -> None:
    container, base = server
    exposition = requests.get(f"{base}/metrics", timeout=5)
    assert exposition.status_code == 200
    assert 'route="/ping"' in exposition.text
    assert any(name.endswith(".db") for name in container.exec("ls", "/tmp/fraiday-metrics").split())


def test_every_server_process_runs_as_10001(
    server: tuple[Container, str], measurements: dict[str, str]
) -> None:
    container, _ = server
    identities = container.identities()
    assert len(identities) >= 3, identities  # the gunicorn master and its two workers
    for identity in identities:
        assert identity.uids == ("10001",) * 4, identity
        assert identity.gids == ("10001",) * 4, identity
    measurements["server memory (PSS, master + 2 workers)"] = f"{pss_mib(identities[0].pid)} MiB"


def test_docker_stop_is_clean(server: tuple[Container, str], measurements: dict[str, str]) -> None:
    container, _ = server
    exit_code, seconds = container.stop()  # docker's default: SIGTERM, then SIGKILL after 10 s
    assert exit_code == 0, container.logs()[-3000:]
    measurements["server: docker stop"] = f"{seconds:.2f} s"
