"""An upstream error that echoes our credentials never reaches an answer, a record, Redis or a log line.

The AI service here answers 401 with the ``Authorization`` header it received in the body, as a careless
or hostile service would; the token must then appear nowhere a user or operator can read.
"""

import json
import signal
import subprocess
from pathlib import Path

import pytest
import redis

from config.redaction import MASK
from fraiday_cli.server.app import create_app
from tests.conftest import settings_from
from tests.processes import FRAIDAY, fraiday, wait_for
from tests.server.conftest import AUTH
from tests.support.http_stub import Answer, http_stub

AI_TOKEN = "tok-echoed-by-a-careless-ai-service-0042"


def redis_texts(connection: redis.Redis) -> list[bytes]:
    """Every value stored in Redis, whatever its type."""
    texts: list[bytes] = []
    for key in connection.scan_iter():
        kind = connection.type(key)
        if kind == b"string":
            texts.append(connection.get(key) or b"")
        elif kind == b"hash":
            texts += connection.hgetall(key).values()
        elif kind == b"list":
            texts += connection.lrange(key, 0, -1)
        elif kind == b"set":
            texts += connection.smembers(key)
        elif kind == b"zset":
            texts += connection.zrange(key, 0, -1)
        elif kind == b"stream":
            texts += [bytes(v) for _, entry in connection.xrange(key) for v in entry.values()]
    return texts


@pytest.mark.parametrize(
    "padding",
    [0, 257],
    ids=["whole", "cut"],  # 257: the error body's 300-character excerpt ends 20 characters into the token
)
def test_an_echoed_ai_token_is_redacted_from_task_message_jobs_redis_and_logs(
    padding: int,
    api_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    redis_conn: redis.Redis,
) -> None:
    body = "x" * padding or "unauthorized, you sent"
    with http_stub() as ai:
        ai.script("/v1/chat", Answer(401, body, echo="Authorization"))
        env = {**api_env, "AI_SERVICE_URL": ai.url, "SLACK_AI_TOKEN": AI_TOKEN}
        api = create_app(settings_from(env, monkeypatch)).test_client()
        session_id = api.post("/api/v1/sessions", json={"client_id": "acme"}, headers=AUTH).json["session_id"]
        posted = api.post(f"/api/v1/sessions/{session_id}/messages", json={"content": "hi"}, headers=AUTH)
        task_url = f"/api/v1/tasks/{posted.json['task_id']}"

        with fraiday(["worker", "--queue", "chat_workflow"], env, tmp_path / "worker.log") as worker:
            wait_for(
                lambda: api.get(task_url, headers=AUTH).json["status"] == "failed", 30, what="task failed"
            )
            worker.stop(signal.SIGTERM)
        assert AI_TOKEN.encode() in ai.to("/v1/chat")[0].headers["Authorization"].encode()

    task = api.get(task_url, headers=AUTH).get_data(as_text=True)
    messages = api.get(f"/api/v1/sessions/{session_id}/messages", headers=AUTH).json["messages"]
    jobs = subprocess.run(
        [*FRAIDAY, "jobs", "--queue", "chat_workflow", "--state", "failed", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert f"Bearer {MASK}" in json.loads(task)["last_error"]
    assert f"Bearer {MASK}" in messages[0]["error"]
    assert f"Bearer {MASK}" in json.loads(jobs.stdout)[0]["last_error"]
    head = AI_TOKEN[:10]  # not even the part of the token an excerpt kept
    for text in (task, json.dumps(messages), jobs.stdout, jobs.stderr, worker.output()):
        assert head not in text
    assert not [value for value in redis_texts(redis_conn) if head.encode() in value]
