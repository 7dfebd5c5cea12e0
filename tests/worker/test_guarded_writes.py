"""Writes sent through a checking script leave Redis as redis-py's own transaction would, replies included."""

from typing import Any

import pytest
import redis

from fraiday_cli.worker.guarded_writes import RUN_WRITES, packed_writes
from handlers.wire_format import is_wrong_type


def queue_writes(pipeline: Any, prefix: str) -> None:
    """The kinds of write RQ queues for a start and a success: mappings, flags, floats, bytes, a read."""
    pipeline.hset(f"{prefix}:job", mapping={"status": "started", "meta": b'{"attempt": 1}', "n": 3})
    pipeline.zadd(f"{prefix}:wip", {"job:exec": 1234.5})
    pipeline.zadd(f"{prefix}:wip", {"job:exec": 99.25}, xx=True)
    pipeline.zadd(f"{prefix}:wip", {"other": 1.0}, xx=True)
    pipeline.expire(f"{prefix}:job", 600)
    pipeline.persist(f"{prefix}:job")
    pipeline.hincrbyfloat(f"{prefix}:worker", "total_working_time", 0.125)
    pipeline.lrem(f"{prefix}:intermediate", 1, "job")
    pipeline.xadd(f"{prefix}:results", {"type": "1", "return_value": b"\x80\x04null"}, maxlen=10)
    pipeline.hdel(f"{prefix}:worker", "current_job")
    pipeline.sadd(f"{prefix}:paused", "events", "chat_workflow")
    pipeline.smembers(f"{prefix}:paused")


def state(conn: redis.Redis, prefix: str) -> dict[str, Any]:
    return {
        "job": conn.hgetall(f"{prefix}:job"),
        "ttl": conn.ttl(f"{prefix}:job"),
        "wip": conn.zrange(f"{prefix}:wip", 0, -1, withscores=True),
        "worker": conn.hgetall(f"{prefix}:worker"),
        "results": [fields for _id, fields in conn.xrange(f"{prefix}:results")],
    }


def test_writes_run_by_the_script_match_redis_pys_transaction(redis_conn: redis.Redis) -> None:
    with redis_conn.pipeline() as pipeline:
        queue_writes(pipeline, "direct")
        direct_replies = pipeline.execute()
    run_all = redis_conn.register_script(RUN_WRITES + "return run_writes(1, #ARGV)")
    with redis_conn.pipeline(transaction=False) as pipeline:
        queue_writes(pipeline, "scripted")
        scripted_replies = run_all(args=packed_writes(pipeline))
    assert state(redis_conn, "scripted") == state(redis_conn, "direct")
    assert set(scripted_replies[-1]) == direct_replies[-1] == {b"events", b"chat_workflow"}
    assert len(scripted_replies) == len(direct_replies)


def test_packing_leaves_the_pipeline_unsent(redis_conn: redis.Redis) -> None:
    with redis_conn.pipeline(transaction=False) as pipeline:
        pipeline.set("unsent", "1")
        assert packed_writes(pipeline) == [3, "SET", "unsent", "1"]
    assert redis_conn.exists("unsent") == 0


def test_a_write_refused_midway_leaves_the_others_written_and_raises_as_the_transaction_did(
    redis_conn: redis.Redis,
) -> None:
    """A key of another type (planted, or left by an operator) refuses one write. MULTI/EXEC ran every
    other write and raised; a script stopping at the refusal instead left the first half of a success
    (the job finished) without the rest (its lease entry, its result), and the slot then retried a job
    that had run, until its attempts ran out."""
    for prefix in ("direct", "scripted"):
        redis_conn.set(f"{prefix}:intermediate", "planted")
    with redis_conn.pipeline() as pipeline:
        queue_writes(pipeline, "direct")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE") as direct_error:
            pipeline.execute()
    run_all = redis_conn.register_script(RUN_WRITES + "return run_writes(1, #ARGV)")
    with redis_conn.pipeline(transaction=False) as pipeline:
        queue_writes(pipeline, "scripted")
        with pytest.raises(redis.ResponseError) as scripted_error:
            run_all(args=packed_writes(pipeline))
    assert is_wrong_type(scripted_error.value), (scripted_error.value, direct_error.value)
    assert state(redis_conn, "scripted") == state(redis_conn, "direct")
    assert redis_conn.smembers("scripted:paused") == {b"events", b"chat_workflow"}
