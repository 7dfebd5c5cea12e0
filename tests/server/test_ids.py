"""Ids a producer migrating from the Go service sends: the ObjectIds it stored, and its callers' names.

The rule each id keeps to is stated in words in the error and in the OpenAPI document, the same words.
"""

import json
import subprocess
from typing import Any

import pytest
from flask.testing import FlaskClient

from handlers.payloads import NAME_RULE, OBJECT_ID_RULE
from tests.processes import FRAIDAY
from tests.server.test_api import get, new_session, post

EVENT = {"client_id": "acme", "event_type": "order.created", "entity_type": "order", "payload": {}}


def test_an_object_id_in_either_case_finds_the_same_session(api: FlaskClient) -> None:
    session_id = new_session(api)
    status, body = get(api, f"/sessions/{session_id.upper()}")
    assert (status, body["session_id"]) == (200, session_id)
    status, body = post(api, f"/sessions/{session_id.upper()}/messages", {"content": "hi"})
    assert status == 202
    assert body["task_id"] == f"chat-{body['message_id']}"


@pytest.mark.parametrize("bad", ["not-an-id", "6560c0ffee0000000000f00", "6560c0ffee0000000000f00g"])
def test_a_malformed_object_id_names_the_rule(api: FlaskClient, bad: str) -> None:
    status, body = get(api, f"/sessions/{bad}")
    assert (status, body["fields"]) == (400, {"session_id": OBJECT_ID_RULE})


@pytest.mark.parametrize(
    "event_id",
    [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "evt_2024_000123",
        "urn:acme:order:42",
        "ops@acme.example",
        "shop/orders/42",
        "Order.Created.v2",
    ],
)
def test_ids_producers_commonly_use_are_accepted(api: FlaskClient, event_id: str) -> None:
    status, body = post(api, "/events", {**EVENT, "event_id": event_id})
    assert (status, body["event_id"]) == (202, event_id), body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "order 42"),
        ("event_id", "x" * 129),
        ("client_id", "-acme"),
        ("event_type", "order created"),
        ("entity_type", "Bestellung#1"),
        ("event_id", "caf\u00e9"),
    ],
)
def test_an_id_outside_the_rule_is_refused_naming_the_rule(api: FlaskClient, field: str, value: str) -> None:
    status, body = post(api, "/events", {**EVENT, "event_id": "e-1", field: value})
    assert (status, body["fields"]) == (400, {field: NAME_RULE})


def _described(schema: dict[str, Any]) -> str:
    return str(schema.get("description", ""))


def test_the_openapi_document_states_each_rule(api: FlaskClient) -> None:
    document = api.get("/openapi.json").json
    session = document["paths"]["/api/v1/sessions/{session_id}"]["get"]["parameters"][0]
    assert OBJECT_ID_RULE in _described(session)
    event = document["components"]["schemas"]["EventCreate"]["properties"]
    for field in ("event_id", "client_id", "event_type", "entity_type"):
        assert NAME_RULE in _described(event[field]), field


def test_the_task_client_refuses_with_the_same_words(env: dict[str, str]) -> None:
    payload = json.dumps({"message_id": "m-1", "session_id": "6560c0ffee0000000000beef"})
    result = subprocess.run(
        [*FRAIDAY, "enqueue", "chat:workflow", "--payload", payload],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"message_id: {OBJECT_ID_RULE}" in result.stderr
