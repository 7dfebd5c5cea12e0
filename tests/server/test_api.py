"""Every endpoint of /api/v1 through the real app, with real Redis and MongoDB."""

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from handlers.wire_format import REQUEST_ID_META, SERIALIZER
from tests.server.conftest import AUTH


def post(api: FlaskClient, path: str, body: object) -> tuple[int, Any]:
    response = api.post(f"/api/v1{path}", json=body, headers=AUTH)
    return response.status_code, response.json


def get(api: FlaskClient, path: str) -> tuple[int, Any]:
    response = api.get(f"/api/v1{path}", headers=AUTH)
    return response.status_code, response.json


def new_session(api: FlaskClient) -> str:
    status, body = post(api, "/sessions", {"client_id": "acme", "metadata": {"channel": "web"}})
    assert status == 201
    return str(body["session_id"])


@pytest.mark.parametrize(
    "header", [None, "Bearer nope", "Basic key-two-rotated-in", "Bearer ", "key-two-rotated-in"]
)
def test_the_api_requires_one_of_the_configured_keys(api: FlaskClient, header: str | None) -> None:
    response = api.get("/api/v1/sessions/" + "a" * 24, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json == {
        "error": "unauthorized",
        "message": "missing or invalid API key (Authorization: Bearer <key>)",
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_either_key_of_a_rotation_works_and_probes_need_none(api: FlaskClient) -> None:
    for key in ("key-one-old", "key-two-rotated-in"):
        response = api.post(
            "/api/v1/sessions", json={"client_id": "acme"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 201
    assert api.get("/ping").status_code == 200
    assert api.get("/openapi.json").status_code == 200


def test_sessions_are_created_and_read(api: FlaskClient) -> None:
    session_id = new_session(api)
    status, body = get(api, f"/sessions/{session_id}")
    assert status == 200
    assert (body["client_id"], body["metadata"]) == ("acme", {"channel": "web"})
    assert body["created_at"].endswith("Z")
    assert get(api, "/sessions/" + "0" * 24) == (
        404,
        {"error": "not_found", "message": f"session '{'0' * 24}' does not exist"},
    )
    status, body = get(api, "/sessions/not-an-id")
    assert status == 400 and set(body["fields"]) == {"session_id"}


def test_a_posted_message_is_stored_and_its_workflow_enqueued(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    session_id = new_session(api)
    status, body = post(api, f"/sessions/{session_id}/messages", {"content": "Where is my order?"})
    assert status == 202
    assert body == {
        "message_id": body["message_id"],
        "task_id": f"chat-{body['message_id']}",
        "status": "pending",
    }
    assert redis_conn.lrange("rq:queue:chat_workflow", 0, -1) == [body["task_id"].encode()]
    status, task = get(api, f"/tasks/{body['task_id']}")
    assert status == 200
    assert (task["task_type"], task["queue"], task["status"], task["attempts"], task["max_attempts"]) == (
        "chat:workflow",
        "chat_workflow",
        "queued",
        0,
        5,
    )
    assert post(api, "/sessions/" + "0" * 24 + "/messages", {"content": "x"})[0] == 404


def test_messages_are_listed_in_pages(api: FlaskClient) -> None:
    session_id = new_session(api)
    sent = [
        post(api, f"/sessions/{session_id}/messages", {"content": f"m{i}"})[1]["message_id"] for i in range(3)
    ]
    status, first = get(api, f"/sessions/{session_id}/messages?limit=2")
    assert status == 200
    assert [m["message_id"] for m in first["messages"]] == sent[:2]
    assert first["messages"][0]["role"] == "user" and first["messages"][0]["status"] == "pending"
    status, second = get(api, f"/sessions/{session_id}/messages?limit=2&after={first['next_after']}")
    assert [m["message_id"] for m in second["messages"]] == sent[2:]
    assert second["next_after"] is None
    assert get(api, f"/sessions/{session_id}/messages?limit=0")[0] == 400
    assert get(api, f"/sessions/{session_id}/messages?after=zzz")[0] == 400


def test_suggestions_are_requested_once_per_message(api: FlaskClient) -> None:
    session_id = new_session(api)
    message_id = post(api, f"/sessions/{session_id}/messages", {"content": "hi"})[1]["message_id"]
    path = f"/sessions/{session_id}/messages/{message_id}/suggestions"
    first = api.post(f"/api/v1{path}", headers=AUTH)
    second = api.post(f"/api/v1{path}", headers=AUTH)
    assert (first.status_code, first.json) == (202, {"task_id": f"suggest-{message_id}", "duplicate": False})
    assert (second.status_code, second.json["duplicate"]) == (202, True)
    missing = api.post(f"/api/v1/sessions/{session_id}/messages/{'0' * 24}/suggestions", headers=AUTH)
    assert missing.status_code == 404


def test_an_event_id_is_accepted_once(api: FlaskClient, redis_conn: redis.Redis) -> None:
    event = {
        "event_id": "evt/42",
        "client_id": "acme",
        "event_type": "order.created",
        "entity_type": "order",
        "payload": {"total": 3},
    }
    status, first = post(api, "/events", event)
    assert status == 202 and first["duplicate"] is False and first["event_id"] == "evt/42"
    status, second = post(api, "/events", event)
    assert (status, second["task_id"], second["duplicate"]) == (202, first["task_id"], True)
    assert redis_conn.llen("rq:queue:events") == 1
    status, generated = post(api, "/events", {**event, "event_id": None})
    assert status == 202 and len(generated["event_id"]) == 32
    status, body = post(api, "/events", {**event, "payload": "not an object", "entity_type": 5})
    assert status == 400 and set(body["fields"]) == {"payload", "entity_type"}


def test_a_second_sync_while_one_is_pending_answers_409_with_its_task(api: FlaskClient) -> None:
    status, first = post(api, "/clients/acme/semantic-layer/sync", {"sync_type": "full"})
    assert status == 202
    status, second = post(api, "/clients/acme/semantic-layer/sync", {"sync_type": "full"})
    assert (status, second["error"], second["task_id"]) == (409, "sync_pending", first["task_id"])
    assert post(api, "/clients/acme/semantic-layer/sync", {"sync_type": "incremental"})[0] == 202


def test_webhooks_are_created_listed_read_and_deleted(api: FlaskClient) -> None:
    status, created = post(
        api, "/clients/acme/webhooks", {"url": "https://93.184.215.14/hook", "event_types": ["*"]}
    )
    assert status == 201
    assert created["secret"].startswith("whsec_") and created["active"] is True
    webhook_id = created["webhook_id"]
    status, listed = get(api, "/clients/acme/webhooks")
    assert [w["webhook_id"] for w in listed["webhooks"]] == [webhook_id]
    assert "secret" not in listed["webhooks"][0]
    status, one = get(api, f"/clients/acme/webhooks/{webhook_id}")
    assert status == 200 and "secret" not in one
    assert get(api, f"/clients/globex/webhooks/{webhook_id}")[0] == 404
    assert api.delete(f"/api/v1/clients/acme/webhooks/{webhook_id}", headers=AUTH).status_code == 204
    assert api.delete(f"/api/v1/clients/acme/webhooks/{webhook_id}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:8080/x", "event_types": ["*"]}, "url"),
        ({"url": "http://169.254.169.254/latest", "event_types": ["*"]}, "url"),
        ({"url": "http://10.0.0.1/", "event_types": ["*"]}, "url"),
        ({"url": "http://[::127.0.0.1]/x", "event_types": ["*"]}, "url"),
        ({"url": "http://[64:ff9b::7f00:1]/x", "event_types": ["*"]}, "url"),
        ({"url": "http://[64:ff9b:1::7f00:1]/x", "event_types": ["*"]}, "url"),
        ({"url": "http://[::ffff:0:7f00:1]/x", "event_types": ["*"]}, "url"),
        ({"url": "http://[2002:7f00:1::]/x", "event_types": ["*"]}, "url"),
        ({"url": "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", "event_types": ["*"]}, "url"),
        ({"url": "http://[::ffff:169.254.169.254]/x", "event_types": ["*"]}, "url"),
        ({"url": "ftp://93.184.215.14/", "event_types": ["*"]}, "url"),
        ({"url": "https://93.184.215.14/", "event_types": []}, "event_types"),
        ({"url": "https://93.184.215.14/", "event_types": ["bad type"]}, "event_types.0"),
    ],
)
def test_bad_webhooks_are_refused_naming_the_field(
    api: FlaskClient, body: dict[str, Any], field: str
) -> None:
    status, answer = post(api, "/clients/acme/webhooks", body)
    assert status == 400
    assert field in answer["fields"]
    assert get(api, "/clients/acme/webhooks")[1]["webhooks"] == []


def test_unknown_tasks_and_malformed_ids(api: FlaskClient) -> None:
    assert get(api, "/tasks/nope")[0] == 404
    assert get(api, "/tasks/a:b")[0] == 400


def test_a_job_hash_written_by_hand_is_reported_unreadable_not_a_500(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    redis_conn.hset("rq:job:planted", mapping={"data": b"x", "origin": "events", "status": "no-such-status"})
    status, task = get(api, "/tasks/planted")
    assert status == 200
    assert (task["status"], task["queue"]) == ("failed", "events")
    assert task["last_error"].startswith("unreadable job: ValueError")


def test_request_errors_are_clear_json(api: FlaskClient) -> None:
    sessions = "/api/v1/sessions"
    broken = api.post(sessions, data="{nope", headers={**AUTH, "Content-Type": "application/json"})
    assert (broken.status_code, broken.json["fields"]) == (400, {"(body)": "is not valid JSON"})
    text = api.post(
        sessions, data="client_id=acme", headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (text.status_code, text.json["error"]) == (415, "unsupported_media_type")
    array = api.post(sessions, json=[1], headers=AUTH)
    assert (array.status_code, array.json["fields"]) == (400, {"(body)": "must be a JSON object"})
    empty = api.post(sessions, headers=AUTH)
    assert (empty.status_code, empty.json["fields"]) == (400, {"(body)": "a JSON object is required"})
    unknown = api.post(sessions, json={"client_id": "acme", "owner": "me"}, headers=AUTH)
    assert unknown.json["fields"] == {"owner": "unknown field"}
    big = api.post(sessions, json={"client_id": "acme", "metadata": {"x": "y" * 5000}}, headers=AUTH)
    assert (big.status_code, big.json["error"]) == (413, "request_entity_too_large")
    wrong_method = api.put(sessions, json={}, headers=AUTH)
    assert (wrong_method.status_code, wrong_method.json["error"]) == (405, "method_not_allowed")
    assert api.get("/api/v1/nothing-here", headers=AUTH).json["error"] == "not_found"


def test_the_openapi_document_describes_every_route_and_the_docs_are_served(api: FlaskClient) -> None:
    spec = api.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/api/v1/sessions",
        "/api/v1/sessions/{session_id}",
        "/api/v1/sessions/{session_id}/messages",
        "/api/v1/sessions/{session_id}/messages/{message_id}/suggestions",
        "/api/v1/events",
        "/api/v1/clients/{client_id}/semantic-layer/sync",
        "/api/v1/clients/{client_id}/webhooks",
        "/api/v1/clients/{client_id}/webhooks/{webhook_id}",
        "/api/v1/tasks/{task_id}",
    }
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "202" in spec["paths"]["/api/v1/events"]["post"]["responses"]
    docs = api.get("/docs", follow_redirects=True)
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()


def test_a_request_id_is_returned_and_travels_into_the_job(api: FlaskClient, redis_conn: redis.Redis) -> None:
    from rq.job import Job

    session_id = new_session(api)
    response = api.post(
        f"/api/v1/sessions/{session_id}/messages",
        json={"content": "hi"},
        headers={**AUTH, "X-Request-ID": "req-abc.123"},
    )
    assert response.headers["X-Request-ID"] == "req-abc.123"
    job = Job.fetch(response.json["task_id"], connection=redis_conn, serializer=SERIALIZER)
    assert job.meta[REQUEST_ID_META] == "req-abc.123"
    made_up = api.get("/api/v1/sessions/" + session_id, headers={**AUTH, "X-Request-ID": "bad id!"})
    assert len(made_up.headers["X-Request-ID"]) == 32
