"""Jobs that are not fraiday's never run: planted in Redis by hand, as anyone with Redis access could.

Each is written with raw Redis commands (no RQ), served by a real ``fraiday worker``, and must end in
the failed registry with the reason, unrun (its side effect, a file, never appears), counted by
``fraiday_poison_jobs_total``, while the worker goes on running good jobs.
"""

import json
import signal
import subprocess
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from rq.queue import Queue
from typer.testing import CliRunner

from config import Settings
from fraiday_cli.main import app
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.task_queue import queue_for
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers.wire_format import JOB_FUNCTION, SERIALIZER
from tests.harness.process import free_port
from tests.observability.test_operations import sample
from tests.processes import FRAIDAY, TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import ATTEMPTS, EFFECTS, REGISTRY

runner = CliRunner(env={"COLUMNS": "200"})


def pickle_running(command: str) -> bytes:
    """A protocol-0 pickle that runs ``command`` with os.system when loaded."""
    return b"cos\nsystem\n(S'" + command.encode() + b"'\ntR."


def json_data(function: str, args: list[object]) -> bytes:
    return zlib.compress(json.dumps([function, None, args, {}]).encode())


def plant(conn: redis.Redis, job_id: str, queue: str, **fields: bytes | str) -> None:
    """Write a job hash and push its id, as RQ would, but by hand."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stored = {"origin": queue, "status": "queued", "created_at": now, "enqueued_at": now, **fields}
    for name, value in stored.items():
        conn.hset(f"rq:job:{job_id}", name, value)
    conn.rpush(f"rq:queue:{queue}", job_id)


def failed_ids(conn: redis.Redis, queue: str) -> set[str]:
    return {member.decode() for member in conn.zrange(f"rq:failed:{queue}", 0, -1)}


def failed_jobs(queue: str) -> dict[str, dict[str, object]]:
    result = runner.invoke(app, ["jobs", "--queue", queue, "--state", "failed", "--json"])
    assert result.exit_code == 0, result.output
    return {job["task_id"]: job for job in json.loads(result.stdout)}


def worker(port: int, *queues: str) -> list[str]:
    names = [arg for queue in queues for arg in ("--queue", queue)]
    return ["worker", *names, "--metrics-port", str(port), "--registry", TEST_REGISTRY]


def fraiday_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRAIDAY, *args, "--registry", TEST_REGISTRY],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_job_naming_another_function_never_runs_and_is_dead_lettered_and_counted(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran-os-system"
    plant(redis_conn, "evil", "events", data=json_data("os.system", [f"touch {marker}"]))
    good = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "after-evil"})
    port = free_port()
    with fraiday(worker(port, "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: "evil" in failed_ids(redis_conn, "events"), 20, what="evil dead-lettered")
        wait_for(lambda: redis_conn.hget(EFFECTS, "after-evil") == b"1", 20, what="the good job after it")
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        process.stop(signal.SIGTERM)
    assert not marker.exists()
    assert redis_conn.hget("rq:job:evil", "status") == b"failed"
    error = str(failed_jobs("events")["evil"]["last_error"])
    assert "not a fraiday job" in error and "os.system" in error
    assert sample(metrics, "fraiday_poison_jobs_total", queue="events", reason="function") == 1
    assert good.task_id not in failed_ids(redis_conn, "events")


def test_pickled_data_or_meta_and_unreadable_jobs_never_run(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    data_marker, meta_marker = tmp_path / "data-unpickled", tmp_path / "meta-unpickled"
    plant(redis_conn, "pickled-data", "events", data=pickle_running(f"touch {data_marker}"))
    # Valid fraiday data, so only the pickled meta is wrong: the handler must not run either.
    plant(
        redis_conn,
        "pickled-meta",
        "events",
        data=json_data(JOB_FUNCTION, ["test:count", {"key": "pickled-meta"}]),
        meta=pickle_running(f"touch {meta_marker}"),
    )
    plant(
        redis_conn,
        "meta-not-object",
        "events",
        data=json_data(JOB_FUNCTION, ["test:count", {"key": "meta-not-object"}]),
        meta=b"[1, 2]",
    )
    plant(
        redis_conn,
        "bad-status",
        "events",
        data=json_data(JOB_FUNCTION, ["test:count", {"key": "bad-status"}]),
        status="no-such-status",
    )
    plant(
        redis_conn,
        "bad-dates",
        "events",
        data=json_data(JOB_FUNCTION, ["test:count", {"key": "bad-dates"}]),
        created_at="yesterday",
        enqueued_at="yesterday",
    )
    plant(  # RQ fails this one with an AssertionError, not a ValueError
        redis_conn,
        "bad-timeout",
        "events",
        data=json_data(JOB_FUNCTION, ["test:count", {"key": "bad-timeout"}]),
        timeout="soon",
    )
    poison = {"pickled-data", "pickled-meta", "meta-not-object", "bad-status", "bad-dates", "bad-timeout"}
    # Before any worker: listing the pending jobs shows them, it does not crash on them.
    pending = runner.invoke(app, ["jobs", "--queue", "events", "--state", "pending", "--json"])
    assert pending.exit_code == 0, pending.output
    assert {job["task_id"] for job in json.loads(pending.stdout)} == poison
    assert runner.invoke(app, ["queues", "--json"]).exit_code == 0

    port = free_port()
    with fraiday(worker(port, "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: failed_ids(redis_conn, "events") == poison, 20, what="all dead-lettered")
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        process.stop(signal.SIGTERM)
    assert not data_marker.exists() and not meta_marker.exists()
    assert redis_conn.hgetall(EFFECTS) == {}
    errors = {task_id: str(job["last_error"]) for task_id, job in failed_jobs("events").items()}
    assert "data is not JSON" in errors["pickled-data"]
    assert "meta is not a JSON object" in errors["pickled-meta"]
    assert "meta is not a JSON object" in errors["meta-not-object"]
    assert "ValueError" in errors["bad-status"]
    assert errors["bad-dates"].startswith("unreadable job: ValueError")
    assert errors["bad-timeout"].startswith("unreadable job: AssertionError")
    counts = {
        reason: sample(metrics, "fraiday_poison_jobs_total", queue="events", reason=reason)
        for reason in ("data", "meta", "unreadable")
    }
    assert counts == {"data": 1, "meta": 2, "unreadable": 3}
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
    for command in (["queues"], ["purge", "--queue", "events", "--state", "failed", "--older-than", "0s"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    assert failed_ids(redis_conn, "events") == set()
    assert not any(redis_conn.exists(f"rq:job:{job_id}") for job_id in poison)


def test_requeue_all_requeues_the_good_jobs_and_reports_the_corrupt_one(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    good = [client.enqueue("test:flaky", {"key": f"good-{i}", "failures": 99}) for i in range(2)]
    with fraiday(["worker", "--queue", "events", "--registry", TEST_REGISTRY], env, tmp_path / "w.log") as w:
        ids = {task.task_id for task in good}
        wait_for(lambda: failed_ids(redis_conn, "events") == ids, 30, what="both good jobs failed for good")
        # What rq-dashboard's Requeue did to a job: its meta re-saved as a pickle.
        corrupt = good[0].task_id
        redis_conn.hset(f"rq:job:{corrupt}", "meta", pickle_running(f"touch {tmp_path / 'x'}"))
        # And a hash RQ cannot load at all (its timeout is not a number), ahead of the good one.
        plant(
            redis_conn, "unloadable", "events", data=json_data(JOB_FUNCTION, ["test:count", {}]), timeout="x"
        )
        redis_conn.lrem("rq:queue:events", 1, "unloadable")
        redis_conn.zadd("rq:failed:events", {"unloadable": time.time() + 3600})
        result = fraiday_command(env, "requeue", "--queue", "events", "--all")
        assert result.returncode == 1
        assert result.stdout.split() == [good[1].task_id]
        assert f"not requeued {corrupt}: not a fraiday job" in result.stderr
        assert "not requeued unloadable: unreadable job: AssertionError" in result.stderr
        assert "Traceback" not in result.stderr
        wait_for(lambda: redis_conn.llen(ATTEMPTS + "good-1") >= 4, 30, what="the requeued job to run again")
        w.stop(signal.SIGTERM)
    assert corrupt in failed_ids(redis_conn, "events")
    assert redis_conn.llen(ATTEMPTS + "good-0") == 3
    assert not (tmp_path / "x").exists()


def test_a_scheduled_job_with_pickled_meta_is_dead_lettered_and_other_retries_still_run(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    marker = tmp_path / "scheduled-meta-unpickled"
    # Due now, ahead of the good one in the scheduled registry.
    plant(
        redis_conn,
        "scheduled-poison",
        "events",
        data=json_data(JOB_FUNCTION, ["test:count", {"key": "scheduled-poison"}]),
        meta=pickle_running(f"touch {marker}"),
        status="scheduled",
    )
    redis_conn.lrem("rq:queue:events", 1, "scheduled-poison")
    redis_conn.zadd("rq:scheduled:events", {"scheduled-poison": int(time.time()) - 5})
    before = client.enqueue("test:count", {"key": "due-with-it"}, delay=timedelta(seconds=1))
    # A retry: fails once, then is scheduled for its second attempt after the poison was met.
    retried = client.enqueue("test:flaky", {"key": "retried", "failures": 1})
    port = free_port()
    with fraiday(worker(port, "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: redis_conn.hget(EFFECTS, "due-with-it") == b"1", 20, what="the due job")
        wait_for(lambda: redis_conn.hget(EFFECTS, "retried") == b"1", 20, what="the retry")
        wait_for(lambda: "scheduled-poison" in failed_ids(redis_conn, "events"), 10, what="poison failed")
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        process.stop(signal.SIGTERM)
    assert not marker.exists()
    assert redis_conn.hget(EFFECTS, "scheduled-poison") is None
    assert redis_conn.zcard("rq:scheduled:events") == 0
    assert "meta is not a JSON object" in str(failed_jobs("events")["scheduled-poison"]["last_error"])
    assert sample(metrics, "fraiday_poison_jobs_total", queue="events", reason="meta") == 1
    assert before.task_id not in failed_ids(redis_conn, "events")
    assert retried.task_id not in failed_ids(redis_conn, "events")


def test_a_job_swapped_for_a_good_one_after_it_was_loaded_is_judged_as_loaded(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever writes to Redis can rewrite a planted job's data between RQ loading it and the slot
    judging it: the slot must judge the data it will run, not a second read of the hash."""
    plant(redis_conn, "swapped", "events", data=json_data("os.system", ["true"]))
    good = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "decoy"})
    redis_conn.lrem("rq:queue:events", 1, good.task_id)
    dequeue_any = Queue.dequeue_any.__func__  # type: ignore[attr-defined]

    def dequeue_then_swap(cls: type[Queue], *args: Any, **kwargs: Any) -> Any:
        result = dequeue_any(cls, *args, **kwargs)
        redis_conn.hset("rq:job:swapped", "data", redis_conn.hget(f"rq:job:{good.task_id}", "data") or b"")
        return result

    monkeypatch.setattr(Queue, "dequeue_any", classmethod(dequeue_then_swap))
    queue = queue_for("events", redis_conn)
    slot = SlotWorker([queue], connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy({}))
    assert slot.dequeue_job_and_maintain_ttl(1, max_idle_time=1) is None
    assert "swapped" in failed_ids(redis_conn, "events")


def test_a_job_naming_a_callback_never_runs(redis_conn: redis.Redis) -> None:
    """RQ imports and calls a job's success, failure or stopped callback by the name in its hash: a job
    with valid data but a callback would have the worker call any function someone wrote there."""
    queue = queue_for("events", redis_conn)
    slot = SlotWorker([queue], connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy({}))
    for callback in ("success_callback_name", "failure_callback_name", "stopped_callback_name"):
        data = json_data(JOB_FUNCTION, ["test:count", {"key": callback}])
        plant(redis_conn, callback, "events", data=data, **{callback: "builtins.print"})
        assert slot.dequeue_job_and_maintain_ttl(1, max_idle_time=1) is None
        assert callback in failed_ids(redis_conn, "events")


def test_a_job_hash_without_data_is_dead_lettered_not_put_back_forever(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """RQ's dequeue skips a hash without ``data`` as if the job were gone; the orphan sweep then finds a
    queued job in no list and would put it back at every scan, warning each time, never failing it."""
    plant(redis_conn, "no-data", "events")
    port = free_port()
    env = {**env, "FRAIDAY_RECOVERY_SECONDS": "3"}
    with fraiday(worker(port, "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: "no-data" in failed_ids(redis_conn, "events"), 30, what="no-data dead-lettered")
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        process.stop(signal.SIGTERM)
    assert redis_conn.llen("rq:queue:events") == 0
    assert "has no data" in str(failed_jobs("events")["no-data"]["last_error"])
    assert "not a fraiday job: it has no data" in (tmp_path / "worker.log").read_text()
    assert sample(metrics, "fraiday_poison_jobs_total", queue="events", reason="data") == 1


def test_a_paused_queue_name_that_is_not_utf8_stops_no_worker_and_no_command(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """The paused set is read with every popped job: one member that is not UTF-8 crashed every slot at
    every restart, ``fraiday queues`` and the dashboard. No queue has such a name, so it pauses nothing."""
    redis_conn.sadd("fraiday:paused_queues", b"\xff\xfe")
    TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "not-paused"})
    for command in (["queues"], ["jobs", "--queue", "events", "--state", "pending"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    with fraiday(worker(free_port(), "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: redis_conn.hget(EFFECTS, "not-paused") == b"1", 20, what="the job to run")
        process.stop(signal.SIGTERM)
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
    assert failed_ids(redis_conn, "events") == set()


def pending_and_due_jobs_still_run(redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path) -> str:
    """A worker started next to the planted entries runs a pending and a due job; its /metrics then."""
    client = TaskClient(redis_conn, REGISTRY)
    client.enqueue("test:count", {"key": "after-pending"})
    client.enqueue("test:count", {"key": "due-after"}, delay=timedelta(seconds=1))
    port = free_port()
    with fraiday(worker(port, "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: redis_conn.hget(EFFECTS, "after-pending") == b"1", 20, what="the pending job")
        wait_for(lambda: redis_conn.hget(EFFECTS, "due-after") == b"1", 20, what="the scheduled job")
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        process.stop(signal.SIGTERM)
    return metrics


def test_ids_that_are_not_utf8_stop_no_slot_no_scheduling_and_no_command(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """RQ decodes every id it reads from a queue or registry as UTF-8: one planted id that is not crashed
    the slot that popped it, the scheduling of due retries at every tick, and every listing."""
    redis_conn.rpush("rq:queue:events", b"\xff\xfe-pending")
    redis_conn.zadd("rq:scheduled:events", {b"\xfe\xff-due": 1})
    redis_conn.zadd("rq:failed:events", {b"\xfe\xff-failed": time.time() + 3600})
    for state in ("pending", "scheduled", "failed"):
        listed = runner.invoke(app, ["jobs", "--queue", "events", "--state", state])
        assert listed.exit_code == 0, listed.output
    for command in (["queues"], ["requeue", "--queue", "events", "--all"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    metrics = pending_and_due_jobs_still_run(redis_conn, env, tmp_path)
    assert redis_conn.zcard("rq:scheduled:events") == 0
    assert redis_conn.llen("rq:queue:events") == 0 and redis_conn.llen("rq:queue:events:intermediate") == 0
    assert sample(metrics, "fraiday_poison_jobs_total", queue="events", reason="unreadable") == 2
    log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in log and "not a job id (not UTF-8)" in log
    purged = runner.invoke(app, ["purge", "--queue", "events", "--state", "failed", "--older-than", "0s"])
    assert purged.exit_code == 0, purged.output


def zlib_bomb(mebibytes: int) -> bytes:
    """Valid fraiday job data whose payload is a string of ``mebibytes`` MiB, compressed 1000:1."""
    compressor = zlib.compressobj(9)
    head = json.dumps([JOB_FUNCTION, None, ["test:count", {"key": ""}], {}]).encode().split(b'""')
    parts = [compressor.compress(head[0] + b'"')]
    parts += [compressor.compress(b"a" * 2**20) for _ in range(mebibytes)]
    return b"".join([*parts, compressor.compress(b'"' + head[1]), compressor.flush()])


def test_data_that_decompresses_to_gigabytes_is_refused_before_it_is_decompressed(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    """A 1.5 MB planted hash decompressing to 1.5 GB took 3 GB in ``fraiday jobs`` and in the API server
    showing it; the slot popping it would have done the same. Here 64 MiB, judged within 16."""
    plant(redis_conn, "bomb", "events", data=zlib_bomb(64))
    tracemalloc.start()
    try:
        listed = runner.invoke(app, ["jobs", "--queue", "events", "--state", "pending", "--json"])
        listing_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        queue = queue_for("events", redis_conn)
        slot = SlotWorker([queue], connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy({}))
        assert slot.dequeue_job_and_maintain_ttl(1, max_idle_time=1) is None
        slot_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert listed.exit_code == 0, listed.output
    [job] = json.loads(listed.stdout)
    assert job["last_error"] == "unreadable job: DataTooLarge: its data decompresses to over 4 MiB"
    assert "bomb" in failed_ids(redis_conn, "events")
    assert "decompresses to over 4 MiB" in str(failed_jobs("events")["bomb"]["last_error"])
    assert listing_peak < 16 * 2**20 and slot_peak < 16 * 2**20, (listing_peak, slot_peak)


def test_a_job_id_rq_refuses_is_failed_not_the_death_of_the_slot(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    """RQ refuses an id with other than letters, digits, ``_`` and ``-``; recording the failure of one
    planted with a space made the slot that popped it die."""
    plant(redis_conn, "bad id!", "events", data=json_data(JOB_FUNCTION, ["test:count", {"key": "x"}]))
    TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "behind-it"})
    queue = queue_for("events", redis_conn)
    slot = SlotWorker([queue], connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy({}))
    found = slot.dequeue_job_and_maintain_ttl(1, max_idle_time=1)
    assert found is not None and found[0].args[1] == {"key": "behind-it"}
    assert "bad id!" in failed_ids(redis_conn, "events")
    assert str(failed_jobs("events")["bad id!"]["last_error"]).startswith(
        "unreadable job: ValueError: Job ID"
    )


def test_a_job_key_that_is_not_a_hash_stops_no_slot_no_scheduling_and_no_reader(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """``SET rq:job:x`` makes every hash command on it answer WRONGTYPE, which was taken for a Redis
    outage: the slot popping it died, scheduling of every due retry stopped for good, and readers failed."""
    for job_id in ("string-pending", "string-due", "string-failed"):
        redis_conn.set(f"rq:job:{job_id}", "not a hash")
    redis_conn.rpush("rq:queue:events", "string-pending")
    redis_conn.zadd("rq:scheduled:events", {"string-due": 1})
    redis_conn.zadd("rq:failed:events", {"string-failed": time.time() + 3600})
    for state in ("pending", "scheduled", "failed"):
        listed = runner.invoke(app, ["jobs", "--queue", "events", "--state", state, "--json"])
        assert listed.exit_code == 0, listed.output
        assert all(
            job["last_error"] == "unreadable job: its key is not a hash" for job in json.loads(listed.stdout)
        )
    assert runner.invoke(app, ["queues"]).exit_code == 0
    requeued = runner.invoke(app, ["requeue", "--queue", "events", "--all"])
    assert "not requeued string-failed: not a fraiday job: its key is not a hash" in requeued.output
    pending_and_due_jobs_still_run(redis_conn, env, tmp_path)
    assert {"string-pending", "string-due"} <= failed_ids(redis_conn, "events")
    assert redis_conn.zcard("rq:scheduled:events") == 0
    log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in log and "cannot reach Redis" not in log


def test_a_job_with_a_field_that_is_not_utf8_is_dead_lettered_unrun_not_left_popped_forever(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """RQ decodes a popped job's text fields as UTF-8. The slot took any UnicodeDecodeError for an id
    that is not UTF-8 and removed the undecodable field's bytes from the intermediate list, so the job
    stayed there, was put back by the orphan sweep and popped again, forever, never run or failed."""
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "odd-description"})
    redis_conn.hset(f"rq:job:{task.task_id}", "description", b"\xff\xfe")
    TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "after-odd"})
    port = free_port()
    env = {**env, "FRAIDAY_RECOVERY_SECONDS": "3"}
    with fraiday(worker(port, "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: redis_conn.hget(EFFECTS, "after-odd") == b"1", 20, what="the next job")
        wait_for(
            lambda: task.task_id in failed_ids(redis_conn, "events"), 20, what="the odd job dead-lettered"
        )
        process.stop(signal.SIGTERM)
    assert redis_conn.hget(EFFECTS, "odd-description") is None
    assert redis_conn.llen("rq:queue:events:intermediate") == 0
    assert redis_conn.llen("rq:queue:events") == 0
    assert "UnicodeDecodeError" in str(failed_jobs("events")[task.task_id]["last_error"])
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


def test_a_registry_key_planted_as_another_type_makes_queues_say_so_in_one_line(
    redis_conn: redis.Redis, env: dict[str, str]
) -> None:
    """A started or finished registry written by hand as a string: the worker's writes to it are
    refused (each job's start or success raises WRONGTYPE) and ``fraiday queues`` printed a traceback."""
    redis_conn.set("rq:finished:events", "planted")
    shown = fraiday_command(env, "queues")
    assert shown.returncode == 1, shown.stdout
    assert "Traceback" not in shown.stderr
    assert shown.stderr.startswith("fraiday: ") and len(shown.stderr.splitlines()) == 1, shown.stderr
    assert "WRONGTYPE" in shown.stderr and "another type" in shown.stderr
