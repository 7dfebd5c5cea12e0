"""Periodic tasks: cron ticks become tasks once each, with one leader among several schedulers."""

import itertools
import json
import re
import signal
import time
from pathlib import Path

import redis
from typer.testing import CliRunner

from config import Settings
from config.periodic import PeriodicTask
from fraiday_cli.main import app
from fraiday_cli.scheduler.periodic import PeriodicScheduler, latest_tick
from fraiday_cli.tasks.client import TaskClient
from handlers.wire_format import PERIODIC_META
from tests.processes import TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import REGISTRY

EVERY_MINUTE = PeriodicTask(name="count", cron="* * * * *", task_type="test:count", payload={"key": "tick"})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scheduler(conn: redis.Redis, clock: Clock) -> PeriodicScheduler:
    return PeriodicScheduler(conn, TaskClient(conn, REGISTRY), [EVERY_MINUTE], lock_seconds=5, clock=clock)


def test_each_tick_is_enqueued_once_starting_after_the_first_sighting(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    clock = Clock(1_800_000_030.0)  # 30 s past a minute
    periodic = scheduler(redis_conn, clock)
    assert periodic.step() == []  # first sighting: the current minute's tick is in the past
    clock.now += 20
    assert periodic.step() == []
    clock.now += 20  # crossed into the next minute
    fired = periodic.step()
    assert [e.task_id for e in fired] == ["periodic-count-1800000060"]
    assert periodic.step() == []
    clock.now += 600  # ten ticks missed (say, an outage): only the latest runs
    assert [e.task_id for e in periodic.step()] == ["periodic-count-1800000660"]
    assert redis_conn.lrange("rq:queue:events", 0, -1) == [
        b"periodic-count-1800000060",
        b"periodic-count-1800000660",
    ]
    meta = json.loads(redis_conn.hget("rq:job:periodic-count-1800000060", "meta"))
    assert meta[PERIODIC_META] == "count", "the job names the entry that enqueued it"


def test_only_the_leader_enqueues_and_a_standby_takes_over_when_it_resigns(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    clock = Clock(1_800_000_030.0)
    leader, standby = scheduler(redis_conn, clock), scheduler(redis_conn, clock)
    leader.step()
    standby.step()
    clock.now += 40
    assert [e.task_id for e in leader.step()] == ["periodic-count-1800000060"]
    assert standby.step() == []
    leader.resign()
    clock.now += 60
    assert [e.task_id for e in standby.step()] == ["periodic-count-1800000120"]
    assert leader.step() == []


def test_a_garbled_last_tick_in_redis_is_read_as_a_first_sighting(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    """Whoever can write to Redis can garble the last tick: the scheduler neither crashes on it nor
    stops firing (``inf`` would say every tick had already run)."""
    clock = Clock(1_800_000_030.0)
    periodic = scheduler(redis_conn, clock)
    for garbled in (b"yesterday", b"inf", b"nan", b"1e400"):
        redis_conn.hset("fraiday:scheduler:last_tick", "count", garbled)
        assert periodic.step() == []
    clock.now += 40
    assert [e.task_id for e in periodic.step()] == ["periodic-count-1800000060"]


def test_latest_tick_with_a_seconds_field() -> None:
    assert latest_tick("* * * * * */10", 1_800_000_035.5) == 1_800_000_030.0


def test_a_bad_periodic_entry_is_refused_with_exit_code_2(env: dict[str, str]) -> None:
    entries = [{"name": "bad", "cron": "* * * * *", "task_type": "test:count", "payload": {"key": 5}}]
    result = CliRunner().invoke(
        app,
        ["scheduler", "--registry", TEST_REGISTRY],
        env={**env, "FRAIDAY_PERIODIC_TASKS": json.dumps(entries), "COLUMNS": "200"},
    )
    assert result.exit_code == 2
    assert "FRAIDAY_PERIODIC_TASKS entry 'bad': invalid payload for test:count: key:" in result.output
    result = CliRunner().invoke(
        app, ["scheduler"], env={**env, "FRAIDAY_PERIODIC_TASKS": '[{"name": "x", "cron": "61 * * * *"}]'}
    )
    assert result.exit_code == 2
    assert "FRAIDAY_PERIODIC_TASKS[0].cron: '61 * * * *' is not a cron expression" in result.output


def test_two_scheduler_processes_enqueue_each_tick_once_and_survive_the_leader_s_death(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    entries = [{"name": "beat", "cron": "* * * * * */2", "task_type": "test:count", "payload": {"key": "b"}}]
    env = {**env, "FRAIDAY_PERIODIC_TASKS": json.dumps(entries)}  # lock TTL: 3 s (recovery 6 s)
    command = ["scheduler", "--registry", TEST_REGISTRY]

    def ticks() -> list[int]:
        ids = [i.decode() for i in redis_conn.lrange("rq:queue:events", 0, -1)]
        assert all(re.fullmatch(r"periodic-beat-\d+", i) for i in ids)
        return [int(i.rsplit("-", 1)[1]) for i in ids]

    with (
        fraiday(command, env, tmp_path / "a.log") as first,
        fraiday(command, env, tmp_path / "b.log") as second,
    ):
        wait_for(lambda: len(ticks()) >= 3, 15, what="three ticks")
        leaders = [p for p in (first, second) if "now the leader" in p.output()]
        assert len(leaders) == 1
        leader, standby = leaders[0], second if leaders[0] is first else first
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait(5)
        killed_at = time.time()
        wait_for(lambda: "now the leader" in standby.output(), 3 + 2, what="standby taking over")
        wait_for(lambda: max(ticks()) > killed_at + 1, 5, what="a tick after the takeover")
        assert standby.stop(signal.SIGTERM, timeout=10) == 0
    seen = ticks()
    assert len(seen) == len(set(seen)), "a tick was enqueued twice"
    assert all(t % 2 == 0 for t in seen)
    assert [b - a for a, b in itertools.pairwise(seen)].count(2) >= 2
    # At most the lock TTL (3 s) plus a poll without a leader: the tick in that gap runs late, not never.
    assert max(b - a for a, b in itertools.pairwise(seen)) <= 6
