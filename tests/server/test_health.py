"""/ping and /health, through the app factory and through a real gunicorn."""

import signal
import socket
import time
from pathlib import Path

import pytest
import requests

from config import Settings, load_settings
from fraiday_cli.server.app import create_app
from tests.harness.process import free_port
from tests.harness.redis_server import RedisServer
from tests.processes import fraiday, wait_for


def test_ping_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    response = create_app(load_settings()).test_client().get("/ping")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_health_reports_both_dependencies(settings: Settings) -> None:
    response = create_app(settings).test_client().get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "dependencies": {"redis": "ok", "mongodb": "ok"}}


def test_health_names_redis_when_it_is_down_and_answers_within_two_seconds(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    client = create_app(load_settings()).test_client()
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 503
    assert response.json["failing"] == ["redis"]
    assert response.json["dependencies"]["mongodb"] == "ok"


def test_health_times_out_on_a_server_that_never_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never speaks: the worst case for a client
    try:
        monkeypatch.setenv("MONGODB_URI", f"mongodb://127.0.0.1:{silent.getsockname()[1]}/x")
        client = create_app(load_settings()).test_client()
        started = time.monotonic()
        response = client.get("/health")
        assert time.monotonic() - started < 2.0
        assert response.status_code == 503
        assert response.json["failing"] == ["mongodb"]
    finally:
        silent.close()


def test_fraiday_server_serves_under_gunicorn_and_drains_on_sigterm(
    settings: Settings, env: dict[str, str], tmp_path: Path, redis_server: object
) -> None:
    port = free_port()
    with fraiday(["server", "--port", str(port), "--workers", "2"], env, tmp_path / "server.log") as server:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ok(base + "/ping"), 20, what="server up")
        assert requests.get(base + "/health", timeout=5).status_code == 200
        assert "gunicorn" in server.output()
        assert server.stop(signal.SIGTERM, timeout=35) == 0
    log = (tmp_path / "server.log").read_text()
    assert '"path": "/health"' in log and '"status": 200' in log  # JSON access log


def test_fraiday_server_health_is_503_with_redis_stopped(
    settings: Settings, env: dict[str, str], tmp_path: Path, redis_server: RedisServer
) -> None:
    port = free_port()
    with fraiday(["server", "--port", str(port), "--workers", "1"], env, tmp_path / "server.log") as server:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ok(base + "/ping"), 20, what="server up")
        redis_server.stop()
        try:
            started = time.monotonic()
            response = requests.get(base + "/health", timeout=5)
            assert time.monotonic() - started < 2.0
            assert response.status_code == 503
            assert response.json()["failing"] == ["redis"]
        finally:
            redis_server.start()
        wait_for(lambda: requests.get(base + "/health", timeout=5).status_code == 200, 10, what="recovery")
        server.stop(signal.SIGINT, timeout=35)


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
