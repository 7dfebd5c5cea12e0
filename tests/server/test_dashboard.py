"""/dashboard through the real app without a browser: keys, pages, 404/405/CSRF, requeue and pickles.

The browser tests (test_dashboard_browser.py) check what a person sees; these check every refusal.
"""

import base64
import html
import json
import pickle
import re
import zlib
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fraiday_cli.server.dashboard import blueprint as dashboard_blueprint
from fraiday_cli.tasks.inspection import JOB_STATES
from fraiday_cli.tasks.pausing import paused_queues
from handlers.wire_format import JOB_FUNCTION, TASK_TYPE_META
from tests.server.conftest import API_KEY, AUTH
from tests.support.planted_jobs import FileCreatingPickle, dead_letter, plant_pickled

BASIC = {"Authorization": "Basic " + base64.b64encode(f"ops:{API_KEY}".encode()).decode()}
TOKEN = re.compile(rb'name="csrf_token" value="([0-9a-f]+)"')
TEMPLATES = Path(dashboard_blueprint.__file__).parent / "templates"


def token(api: FlaskClient, headers: dict[str, str] = BASIC) -> str:
    found = TOKEN.search(api.get("/dashboard/", headers=headers).data)
    assert found, "the queues page carries a CSRF token in its forms"
    return found.group(1).decode()


def post_event(api: FlaskClient) -> str:
    body = {"client_id": "acme", "event_type": "order.created", "entity_type": "order", "payload": {"n": 1}}
    response = api.post("/api/v1/events", json=body, headers=AUTH)
    assert response.status_code == 202
    return str(response.json["task_id"])


def assert_page(response: TestResponse, status: int, text: str) -> None:
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "text/html"
    assert text in html.unescape(response.get_data(as_text=True))


def test_the_dashboard_takes_a_key_as_basic_password_or_bearer(api: FlaskClient) -> None:
    refused = api.get("/dashboard/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    wrong = {"Authorization": "Basic " + base64.b64encode(b"ops:nope").decode()}
    assert api.get("/dashboard/", headers=wrong).status_code == 401
    assert api.post("/dashboard/queues/events/pause", headers=wrong).status_code == 401
    assert_page(api.get("/dashboard/", headers=BASIC), 200, "<h1>Queues</h1>")
    assert api.get("/dashboard/", headers=AUTH).status_code == 200


def test_the_pages_show_queues_jobs_and_a_job(api: FlaskClient) -> None:
    task_id = post_event(api)
    queues = api.get("/dashboard/", headers=BASIC).get_data(as_text=True)
    row = re.search(r'<tr data-queue="events">(.*?)</tr>', queues, re.S)
    assert row and re.findall(r">(\d+)</a>", row.group(1)) == ["1", "0", "0", "0", "0"]
    assert "chat_workflow" in queues and "semantic_layer" in queues
    listed = api.get("/dashboard/queues/events/jobs/pending", headers=BASIC).get_data(as_text=True)
    assert f'data-task-id="{task_id}"' in listed and "event:process" in listed and "0/5" in listed
    page = api.get(f"/dashboard/jobs/{task_id}", headers=BASIC)
    assert_page(page, 200, f"Job {task_id}")
    payload = re.search(r'<pre id="payload">(.*?)</pre>', page.get_data(as_text=True), re.S)
    assert payload and json.loads(payload.group(1).replace("&#34;", '"'))["payload"] == {"n": 1}
    assert_page(api.get("/dashboard/workers", headers=BASIC), 200, "No workers are running.")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/dashboard/queues/nope/jobs/pending", "There is no queue named 'nope'."),
        ("/dashboard/queues/events/jobs/bogus", "There is no job state 'bogus'"),
        ("/dashboard/jobs/0123456789abcdef", "There is no job '0123456789abcdef'"),
        ("/dashboard/jobs/rq:job:x", "There is no job 'rq:job:x'"),
    ],
)
def test_an_unknown_queue_state_or_job_is_a_404_page(api: FlaskClient, path: str, text: str) -> None:
    assert_page(api.get(path, headers=BASIC), 404, text)


@pytest.mark.parametrize("start", ["-5", "x", "9" * 30])
def test_a_page_position_out_of_range_is_read_as_the_nearest(api: FlaskClient, start: str) -> None:
    post_event(api)
    page = api.get(f"/dashboard/queues/events/jobs/pending?start={start}", headers=BASIC)
    assert page.status_code == 200
    assert ("event:process" in page.get_data(as_text=True)) == (start != "9" * 30)


def test_an_action_on_an_unknown_job_or_queue_is_a_404_page(api: FlaskClient) -> None:
    data = {"csrf_token": token(api)}
    for path in ("/dashboard/jobs/nope/requeue", "/dashboard/jobs/nope/delete"):
        assert_page(api.post(path, data=data, headers=BASIC), 404, "There is no job 'nope'")
    for path in ("/dashboard/queues/nope/pause", "/dashboard/queues/nope/resume"):
        assert_page(api.post(path, data=data, headers=BASIC), 404, "There is no queue named 'nope'.")


def test_a_get_on_an_action_is_405_and_changes_nothing(api: FlaskClient, redis_conn: redis.Redis) -> None:
    task_id = post_event(api)
    dead_letter(redis_conn, task_id, "RuntimeError: boom")
    redis_conn.sadd("fraiday:paused_queues", "semantic_layer")
    before = redis_conn.hgetall(f"rq:job:{task_id}")
    for path in (
        f"/dashboard/jobs/{task_id}/requeue",
        f"/dashboard/jobs/{task_id}/delete",
        "/dashboard/queues/events/pause",
        "/dashboard/queues/semantic_layer/resume",
    ):
        response = api.get(path, headers=BASIC)
        assert response.status_code == 405, path
        assert "POST" in response.headers["Allow"]
    assert redis_conn.hgetall(f"rq:job:{task_id}") == before
    assert redis_conn.zscore("rq:failed:events", task_id) is not None
    assert paused_queues(redis_conn) == {"semantic_layer"}


@pytest.mark.parametrize("sent", [None, "", "0" * 64, "wrong"])
def test_an_action_without_the_right_csrf_token_is_refused(
    api: FlaskClient, redis_conn: redis.Redis, sent: str | None
) -> None:
    task_id = post_event(api)
    dead_letter(redis_conn, task_id, "RuntimeError: boom")
    data = {} if sent is None else {"csrf_token": sent}
    for path in (f"/dashboard/jobs/{task_id}/requeue", f"/dashboard/jobs/{task_id}/delete"):
        assert_page(api.post(path, data=data, headers=BASIC), 403, "CSRF token is missing or wrong")
    assert_page(api.post("/dashboard/queues/events/pause", data=data, headers=BASIC), 403, "CSRF")
    assert redis_conn.zscore("rq:failed:events", task_id) is not None
    assert paused_queues(redis_conn) == set()


def test_a_csrf_token_is_bound_to_the_key_that_got_it(api: FlaskClient, redis_conn: redis.Redis) -> None:
    other_key = {"Authorization": "Basic " + base64.b64encode(b"ops:key-one-old").decode()}
    theirs = token(api, other_key)
    assert theirs != token(api)
    refused = api.post("/dashboard/queues/events/pause", data={"csrf_token": theirs}, headers=BASIC)
    assert refused.status_code == 403 and paused_queues(redis_conn) == set()
    paused = api.post("/dashboard/queues/events/pause", data={"csrf_token": theirs}, headers=other_key)
    assert paused.status_code == 303 and paused.headers["Location"] == "/dashboard/?done=paused"
    assert paused_queues(redis_conn) == {"events"}
    resumed = api.post("/dashboard/queues/events/resume", data={"csrf_token": token(api)}, headers=BASIC)
    assert resumed.status_code == 303 and paused_queues(redis_conn) == set()


def test_requeue_gives_a_dead_letter_all_its_attempts_and_keeps_it_json(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    task_id = post_event(api)
    dead_letter(redis_conn, task_id, "Traceback...\nRuntimeError: receiver down")
    failed = api.get(f"/dashboard/jobs/{task_id}", headers=BASIC).get_data(as_text=True)
    assert "RuntimeError: receiver down" in failed and 'value="requeue"' in failed
    response = api.post(f"/dashboard/jobs/{task_id}/requeue", data={"csrf_token": token(api)}, headers=BASIC)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dashboard/jobs/{task_id}?done=requeued"
    assert redis_conn.lrange("rq:queue:events", 0, -1) == [task_id.encode()]
    assert redis_conn.zscore("rq:failed:events", task_id) is None
    stored = redis_conn.hgetall(f"rq:job:{task_id}")
    assert json.loads(stored[b"meta"])[TASK_TYPE_META] == "event:process"
    assert json.loads(zlib_or_raw(stored[b"data"]))[0] == JOB_FUNCTION
    assert stored[b"retries_left"] == b"4" and stored[b"status"] == b"queued"
    again = api.post(f"/dashboard/jobs/{task_id}/requeue", data={"csrf_token": token(api)}, headers=BASIC)
    assert_page(again, 409, f"only failed tasks can be requeued; {task_id} is queued")


def zlib_or_raw(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:
        return data


def test_deleting_removes_the_job_but_not_one_that_is_running(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    task_id = post_event(api)
    response = api.post(f"/dashboard/jobs/{task_id}/delete", data={"csrf_token": token(api)}, headers=BASIC)
    assert response.headers["Location"] == "/dashboard/queues/events/jobs/pending?done=deleted"
    assert redis_conn.exists(f"rq:job:{task_id}") == 0 and redis_conn.llen("rq:queue:events") == 0
    running = post_event(api)
    redis_conn.hset(f"rq:job:{running}", "status", "started")
    refused = api.post(f"/dashboard/jobs/{running}/delete", data={"csrf_token": token(api)}, headers=BASIC)
    assert_page(refused, 409, f"{running} is running; delete it once it has ended")
    assert redis_conn.exists(f"rq:job:{running}") == 1


@pytest.mark.parametrize(
    ("pickled", "problem"), [("meta", "its meta is not a JSON object"), ("data", "its data is not JSON")]
)
def test_a_planted_pickle_is_shown_refused_and_deleted_but_never_unpickled(
    api: FlaskClient, redis_conn: redis.Redis, tmp_path: Path, pickled: str, problem: str
) -> None:
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(FileCreatingPickle(control)))
    assert control.exists(), "the trap creates its file when unpickled"
    trap = tmp_path / "unpickled"
    planted = plant_pickled(redis_conn, "planted-1", "events", trap, pickled=pickled)
    listed = api.get("/dashboard/queues/events/jobs/failed", headers=BASIC)
    assert_page(listed, 200, f"not a fraiday job: {problem}")
    page = api.get("/dashboard/jobs/planted-1", headers=BASIC)
    assert_page(page, 200, "it can only be deleted")
    assert 'value="requeue"' not in page.get_data(as_text=True)
    assert api.get("/dashboard/", headers=BASIC).status_code == 200
    refused = api.post("/dashboard/jobs/planted-1/requeue", data={"csrf_token": token(api)}, headers=BASIC)
    assert_page(refused, 409, f"planted-1 cannot be requeued, only deleted: not a fraiday job: {problem}")
    assert redis_conn.hgetall("rq:job:planted-1") == planted
    deleted = api.post("/dashboard/jobs/planted-1/delete", data={"csrf_token": token(api)}, headers=BASIC)
    assert deleted.status_code == 303
    assert redis_conn.exists("rq:job:planted-1") == 0 and redis_conn.zcard("rq:failed:events") == 0
    assert not trap.exists()


def test_no_page_unpickles_a_planted_job_in_any_state(
    api: FlaskClient, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    trap = tmp_path / "unpickled"
    for state in JOB_STATES:
        for pickled in ("meta", "data"):
            plant_pickled(redis_conn, f"{state}-{pickled}", "events", trap, pickled=pickled, state=state)
    redis_conn.sadd("rq:workers", "rq:worker:w1")
    redis_conn.hset(
        "rq:worker:w1",
        mapping={"birth": "2026-01-01T00:00:00Z", "queues": "events", "current_job": "started-meta"},
    )
    pages = ["/dashboard/", "/dashboard/workers"]
    pages += [f"/dashboard/queues/events/jobs/{state}" for state in JOB_STATES]
    pages += [f"/dashboard/jobs/{state}-{pickled}" for state in JOB_STATES for pickled in ("meta", "data")]
    for path in pages:
        assert api.get(path, headers=BASIC).status_code == 200, path
    for state in JOB_STATES:
        listed = api.get(f"/dashboard/queues/events/jobs/{state}", headers=BASIC).get_data(as_text=True)
        assert listed.count("not a fraiday job") == 2, state
    assert not trap.exists()


def test_error_text_is_escaped_and_scripts_are_forbidden(api: FlaskClient, redis_conn: redis.Redis) -> None:
    task_id = post_event(api)
    dead_letter(redis_conn, task_id, 'Traceback\nAIServiceRejected: 400: <script>alert("x")</script>')
    for path in (f"/dashboard/jobs/{task_id}", "/dashboard/queues/events/jobs/failed"):
        page = api.get(path, headers=BASIC)
        text = page.get_data(as_text=True)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
        assert "<script" not in text
        assert "script-src" not in page.headers["Content-Security-Policy"]


def test_every_template_is_autoescaped_html_with_no_way_out(api: FlaskClient) -> None:
    files = [t for t in TEMPLATES.rglob("*") if t.is_file()]
    assert len(files) >= 6 and all(t.suffix == ".html" for t in files)
    for template in files:
        assert api.application.select_jinja_autoescape(str(template.relative_to(TEMPLATES)))
        text = template.read_text().replace(" ", "")
        assert "|safe" not in text and "autoescapefalse" not in text and "Markup" not in text, template


def test_a_queue_headed_by_a_missing_or_garbled_hash_still_shows(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    redis_conn.rpush("rq:queue:events", "ghost", "garbled")
    garbled = {"data": "[]", "enqueued_at": "yesterday", "origin": "events", "status": "queued"}
    redis_conn.hset("rq:job:garbled", mapping=garbled)
    queues = api.get("/dashboard/", headers=BASIC).get_data(as_text=True)
    row = re.search(r'<tr data-queue="events">(.*?)</tr>', queues, re.S)
    assert row and re.findall(r">(\d+)</a>", row.group(1))[0] == "2" and ">-</td>" in row.group(1)
    listed = api.get("/dashboard/queues/events/jobs/pending", headers=BASIC)
    assert_page(listed, 200, "not a fraiday job: RQ cannot load its hash (written by hand)")
    assert "ghost" not in listed.get_data(as_text=True)
    page = api.get("/dashboard/jobs/garbled", headers=BASIC)
    assert_page(page, 200, "the dashboard cannot change it")
    assert "<button" not in page.get_data(as_text=True)
    refused = api.post("/dashboard/jobs/garbled/delete", data={"csrf_token": token(api)}, headers=BASIC)
    assert_page(refused, 409, "garbled cannot be changed here: RQ cannot load its hash")
    assert redis_conn.hgetall("rq:job:garbled") == {k.encode(): v.encode() for k, v in garbled.items()}
    redis_conn.lpop("rq:queue:events")
    assert api.get("/dashboard/", headers=BASIC).status_code == 200


@pytest.mark.parametrize(
    "field",
    [
        {"timeout": "abc"},  # RQ asserts it is a str after int() fails: an AssertionError
        {"retry_intervals": "not json"},
        {"dependency_ids": "{"},
        {"last_heartbeat": "never"},
    ],
)
def test_a_hash_failing_rq_in_any_way_is_shown_unreadable_by_the_api_and_the_pages(
    api: FlaskClient, redis_conn: redis.Redis, field: dict[str, str]
) -> None:
    data = zlib.compress(json.dumps([JOB_FUNCTION, None, ["event:process", {}], {}]).encode())
    fields: dict[str, str | bytes] = {"data": data, "origin": "events", "status": "failed", **field}
    redis_conn.hset("rq:job:odd", mapping=fields)
    redis_conn.zadd("rq:failed:events", {"odd": 9e9})
    task = api.get("/api/v1/tasks/odd", headers=AUTH)
    assert task.status_code == 200, task.data
    assert task.json["status"] == "failed" and task.json["last_error"].startswith("unreadable job: ")
    assert_page(api.get("/dashboard/jobs/odd", headers=BASIC), 200, "RQ cannot load its hash")
    assert_page(api.get("/dashboard/queues/events/jobs/failed", headers=BASIC), 200, "odd")
    refused = api.post("/dashboard/jobs/odd/requeue", data={"csrf_token": token(api)}, headers=BASIC)
    assert_page(refused, 409, "odd cannot be changed here")


def test_ids_that_are_not_utf8_leave_the_pages_and_the_queue_counts_standing(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    redis_conn.rpush("rq:queue:events", b"\xff-pending")
    redis_conn.zadd("rq:failed:events", {b"\xfe-failed": 9e9})
    for state in ("pending", "failed"):
        assert_page(api.get(f"/dashboard/queues/events/jobs/{state}", headers=BASIC), 200, state)
    assert_page(api.get("/dashboard/", headers=BASIC), 200, "events")


def test_a_job_key_that_is_not_a_hash_is_shown_and_deleted(api: FlaskClient, redis_conn: redis.Redis) -> None:
    redis_conn.set("rq:job:string", "not a hash")
    redis_conn.zadd("rq:failed:events", {"string": 9e9})
    assert_page(
        api.get("/dashboard/queues/events/jobs/failed", headers=BASIC), 200, "RQ cannot load its hash"
    )
    assert_page(api.get("/dashboard/jobs/string", headers=BASIC), 200, "RQ cannot load its hash")
    refused = api.post("/dashboard/jobs/string/delete", data={"csrf_token": token(api)}, headers=BASIC)
    assert_page(refused, 409, "string cannot be changed here")


def test_a_secret_in_a_stored_error_is_masked_on_the_pages(api: FlaskClient, redis_conn: redis.Redis) -> None:
    task_id = post_event(api)
    dead_letter(redis_conn, task_id, f"Traceback\nAIServiceRejected: 401: echoed Bearer {API_KEY}")
    for path in (f"/dashboard/jobs/{task_id}", "/dashboard/queues/events/jobs/failed"):
        text = api.get(path, headers=BASIC).get_data(as_text=True)
        assert "echoed Bearer [redacted]" in text and API_KEY not in text


def test_a_garbled_worker_registration_does_not_break_the_workers_page(
    api: FlaskClient, redis_conn: redis.Redis
) -> None:
    redis_conn.sadd("rq:workers", "rq:worker:garbled", "rq:worker:fine")
    redis_conn.hset("rq:worker:garbled", mapping={"birth": "not a date", "queues": "events"})
    redis_conn.hset("rq:worker:fine", mapping={"birth": "2026-01-01T00:00:00.000000Z", "queues": "events"})
    page = api.get("/dashboard/workers", headers=BASIC).get_data(as_text=True)
    assert 'data-worker="fine"' in page and "garbled" not in page
