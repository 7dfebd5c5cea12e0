"""Redis or MongoDB down: fast 503s with Retry-After, no stack trace, nothing stored half-done."""

import socket
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from config import load_settings
from fraiday_cli.server.app import create_app
from tests.harness.redis_server import RedisServer
from tests.server.conftest import AUTH


@pytest.fixture
def silent_port() -> Iterator[int]:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections and never answers: the worst case for a client
    yield silent.getsockname()[1]
    silent.close()


def assert_unavailable(response: object, dependency: str, started: float) -> None:
    assert time.monotonic() - started < 2.5
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response.json == {"error": "unavailable", "message": f"{dependency} is unavailable, retry later"}  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "5"  # type: ignore[attr-defined]


def test_redis_down_answers_503_marks_the_message_and_recovers(
    api: FlaskClient, redis_server: RedisServer
) -> None:
    session_id = api.post("/api/v1/sessions", json={"client_id": "acme"}, headers=AUTH).json["session_id"]
    redis_server.stop()
    try:
        started = time.monotonic()
        response = api.post(f"/api/v1/sessions/{session_id}/messages", json={"content": "hi"}, headers=AUTH)
        assert_unavailable(response, "redis", started)
        messages = api.get(f"/api/v1/sessions/{session_id}/messages", headers=AUTH).json["messages"]
        assert [(m["status"], m["error"]) for m in messages] == [("failed", "could not be queued")]
    finally:
        redis_server.start()
    response = api.post(f"/api/v1/sessions/{session_id}/messages", json={"content": "again"}, headers=AUTH)
    assert response.status_code == 202


def test_mongodb_not_answering_is_a_fast_503(
    api_env: dict[str, str], silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {**api_env, "MONGODB_URI": f"mongodb://127.0.0.1:{silent_port}/x"}.items():
        monkeypatch.setenv(key, value)
    api = create_app(load_settings()).test_client()
    started = time.monotonic()
    response = api.post("/api/v1/sessions", json={"client_id": "acme"}, headers=AUTH)
    assert_unavailable(response, "mongodb", started)
