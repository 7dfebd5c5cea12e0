"""A message posted through the API is answered by a real worker and the AI stub, visible via the API."""

import json
import signal
from pathlib import Path

import pytest

from fraiday_cli.server.app import create_app
from tests.conftest import settings_from
from tests.processes import fraiday, wait_for
from tests.server.conftest import AUTH
from tests.support.http_stub import Answer, http_stub


def test_a_posted_message_gets_its_reply_and_its_task_finishes(
    api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with http_stub() as ai:
        ai.script("/v1/chat", Answer(200, {"reply": "Your order ships tomorrow."}))
        env = {**api_env, "AI_SERVICE_URL": ai.url, "SLACK_AI_TOKEN": "tok-e2e-123"}
        api = create_app(settings_from(env, monkeypatch)).test_client()
        session_id = api.post("/api/v1/sessions", json={"client_id": "acme"}, headers=AUTH).json["session_id"]
        posted = api.post(
            f"/api/v1/sessions/{session_id}/messages",
            json={"content": "Where is it?"},
            headers={**AUTH, "X-Request-ID": "e2e-request-1"},
        )
        assert posted.status_code == 202
        task_url = f"/api/v1/tasks/{posted.json['task_id']}"

        with fraiday(["worker", "--queue", "chat_workflow"], env, tmp_path / "worker.log") as worker:
            wait_for(
                lambda: api.get(task_url, headers=AUTH).json["status"] == "finished", 30, what="task finished"
            )
            worker.stop(signal.SIGTERM)
        task_lines = [
            json.loads(line) for line in worker.output().splitlines() if posted.json["task_id"] in line
        ]

    task = api.get(task_url, headers=AUTH).json
    assert (task["attempts"], task["last_error"]) == (1, None)
    assert task["started_at"] <= task["ended_at"]
    messages = api.get(f"/api/v1/sessions/{session_id}/messages", headers=AUTH).json["messages"]
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "Where is it?", "completed"),
        ("assistant", "Your order ships tomorrow.", "completed"),
    ]
    assert messages[1]["reply_to"] == posted.json["message_id"]
    assert task_lines and all(line["request_id"] == "e2e-request-1" for line in task_lines)
