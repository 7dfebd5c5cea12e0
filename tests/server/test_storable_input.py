"""Values MongoDB or Redis cannot store, or that cost without bound, are refused with a 400 naming the
field, by the API and by the worker alike (handlers/storable.py is the one definition)."""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from config import Settings
from fraiday_cli.server.app import create_app
from handlers.errors import PayloadError
from handlers.task_types import REGISTRY
from tests.conftest import settings_from
from tests.server.conftest import AUTH

# Each as the raw JSON text of one value, since some (NaN, a lone surrogate) have no other spelling.
HOSTILE = {
    "nested 1000 deep": "[" * 1000 + "]" * 1000,
    "nested 21 deep": '{"a":' * 21 + "1" + "}" * 21,
    "30-digit integer": "123456789012345678901234567890",
    "integer past int64": str(2**63),
    "NUL in a key": '{"a\\u0000b": 1}',
    "NUL in a string": '"a\\u0000b"',
    "lone surrogate": '"\\ud800"',
    "lone surrogate in a key": '{"\\udfff": 1}',
    "$where key": '{"$where": "sleep(1000)"}',
    "$gt key": '{"q": {"$gt": ""}}',
    "dotted key": '{"a.b": 1}',
    "NaN": "NaN",
    "Infinity": "-Infinity",
}


def post_raw(api: FlaskClient, path: str, text: str) -> tuple[int, Any]:
    response = api.post(path, data=text, headers={**AUTH, "Content-Type": "application/json"})
    return response.status_code, response.json


def event_with(value: str) -> str:
    return (
        '{"client_id":"acme","event_type":"order.created","entity_type":"order","payload":{"v":'
        + value
        + "}}"
    )


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_unstorable_metadata_is_a_400_naming_the_field(api: FlaskClient, value: str) -> None:
    status, body = post_raw(api, "/api/v1/sessions", '{"client_id":"acme","metadata":{"v":' + value + "}}")
    assert status == 400, body
    assert set(body["fields"]) <= {"metadata", "(body)"}, body


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_unstorable_event_payloads_are_refused_by_the_api_and_the_worker(
    api: FlaskClient, redis_conn: redis.Redis, value: str
) -> None:
    status, body = post_raw(api, "/api/v1/events", event_with(value))
    assert status == 400, body
    assert redis_conn.llen("rq:queue:events") == 0

    try:
        decoded = json.loads(event_with(value))
    except RecursionError:
        return  # a job this deep cannot even be read by RQ's JSON serializer, let alone run
    with pytest.raises(PayloadError, match="payload"):
        REGISTRY.get("event:process").parse(decoded)


def test_unstorable_message_content_is_refused(api: FlaskClient) -> None:
    session_id = api.post("/api/v1/sessions", json={"client_id": "acme"}, headers=AUTH).json["session_id"]
    for content in ('"\\ud800 hi"', '"a\\u0000b"'):
        status, body = post_raw(api, f"/api/v1/sessions/{session_id}/messages", '{"content":' + content + "}")
        assert (status, list(body["fields"])) == (400, ["content"])


@pytest.fixture
def roomy_api(api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    settings: Settings = settings_from(
        {**api_env, "FRAIDAY_MAX_BODY_BYTES": str(8 * 1024 * 1024)}, monkeypatch
    )
    app = create_app(settings)
    yield app.test_client()
    app.extensions["fraiday"].services.close()


def test_sixty_thousand_keys_are_refused_at_once(roomy_api: FlaskClient) -> None:
    metadata = {f"k{i}": i for i in range(60_000)}
    started = time.monotonic()
    response = roomy_api.post(
        "/api/v1/sessions", json={"client_id": "acme", "metadata": metadata}, headers=AUTH
    )
    assert (response.status_code, response.json["fields"]) == (
        400,
        {"metadata": "has more than 1000 object keys in all"},
    )
    assert time.monotonic() - started < 2


def test_the_limits_leave_room_for_ordinary_values(api: FlaskClient) -> None:
    metadata = {
        "channel": "web",
        "tags": ["a", "b"],
        "n": -(2**63),
        "x": 1.5,
        "deep": {"a": {"b": [None, True]}},
    }
    response = api.post("/api/v1/sessions", json={"client_id": "acme", "metadata": metadata}, headers=AUTH)
    assert response.status_code == 201, response.json
    assert response.json["metadata"] == metadata


def test_a_job_key_that_is_not_a_hash_is_an_unreadable_task_not_an_outage(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    redis_conn.set("rq:job:planted-string", "not a hash")  # any hash command on it answers WRONGTYPE
    response = api.get("/api/v1/tasks/planted-string", headers=AUTH)
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["last_error"]) == (
        "failed",
        "unreadable job: its key is not a hash",
    )
    assert "Retry-After" not in response.headers


def test_the_api_bounds_its_mongodb_operations_and_redis_connections(api_settings: Settings) -> None:
    resources = create_app(api_settings).extensions["fraiday"]
    try:
        client = resources.services.mongo
        assert client.options.pool_options.socket_timeout == 10
        assert client.options.server_selection_timeout == 1.5
        pool = resources.redis.connection_pool
        held = [pool.get_connection() for _ in range(64)]
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            pool.get_connection()
        assert 1 <= time.monotonic() - started < 5  # waited for one, then answered like an outage
        for connection in held:
            pool.release(connection)
    finally:
        resources.services.close()
        resources.redis.close()
