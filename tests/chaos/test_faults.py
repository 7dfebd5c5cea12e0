"""Faults that must lose nothing: killed slots, a Redis restart, a MongoDB outage, a failing receiver,
and a soak. Short versions run by default; ``nox -s chaos`` runs the full sizes (docs/reliability.md)."""

import contextlib
import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests

from fraiday_cli.tasks.client import TaskClient
from handlers.services import Services
from handlers.task_types import REGISTRY
from tests.chaos.conftest import FULL, size
from tests.chaos.support import complete_requests, delivered_count, deliveries_by_event, event, subscribe
from tests.harness.memory import pss_mib
from tests.harness.mongo_server import FerretDBServer
from tests.harness.process import free_port
from tests.harness.redis_server import RedisServer
from tests.processes import fraiday, wait_for
from tests.support.http_stub import Answer, HttpStub

WORKER = ["worker", "--queue", "events", "--concurrency", "4"]

pytestmark = pytest.mark.timeout(1800 if FULL else 300)


def test_events_survive_random_slot_kills(
    chaos_services: Services,
    receiver: HttpStub,
    redis_conn: redis.Redis,
    chaos_env: dict[str, str],
    tmp_path: Path,
) -> None:
    count = int(size(200, 2000))
    receiver.script("/hook", Answer(204))
    subscribe(chaos_services, receiver)
    client = TaskClient(redis_conn, REGISTRY)
    for i in range(count):
        client.enqueue("event:process", event(i))
    kills = 0
    rng = random.Random(11)
    with fraiday(WORKER, chaos_env, tmp_path / "worker.log") as worker:
        deadline = time.monotonic() + size(120, 900)
        while delivered_count(chaos_services) < count:
            assert time.monotonic() < deadline, f"only {delivered_count(chaos_services)} of {count} delivered"
            time.sleep(rng.uniform(*((0.3, 0.8) if not FULL else (1.0, 3.0))))
            slots = worker.children()
            if slots and delivered_count(chaos_services) < count:
                with contextlib.suppress(ProcessLookupError):  # it ended between the listing and now
                    os.kill(rng.choice(slots), signal.SIGKILL)
                    kills += 1
        worker.stop(signal.SIGTERM, timeout=30)
    seen = deliveries_by_event(receiver)
    assert len(seen) == count, "every event reached the receiver"
    assert all(len(ids) == 1 for ids in seen.values()), "one delivery id per event, even when resent"
    resent = len(complete_requests(receiver)) - count
    assert resent <= kills, f"{resent} resends for {kills} kills: at most one per killed in-flight job"
    assert chaos_services.db.events.events.count_documents({}) == count
    assert kills >= 3


def test_a_redis_restart_mid_load_loses_no_accepted_event(
    chaos_services: Services,
    receiver: HttpStub,
    redis_server: RedisServer,
    chaos_env: dict[str, str],
    tmp_path: Path,
) -> None:
    receiver.script("/hook", Answer(204))
    subscribe(chaos_services, receiver)
    port = free_port()
    env = {**chaos_env, "FRAIDAY_API_KEYS": "chaos"}
    accepted: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def produce() -> None:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer chaos"
        while not stop.is_set():
            event_id = uuid.uuid4().hex
            try:
                response = session.post(
                    f"http://127.0.0.1:{port}/api/v1/events",
                    json={**event(0), "event_id": event_id},
                    timeout=5,
                )
            except requests.RequestException:
                statuses.append(0)
                continue
            statuses.append(response.status_code)
            if response.status_code == 202:
                accepted.append(event_id)
            elif response.status_code == 503 and "Retry-After" not in response.headers:
                statuses.append(-503)  # a 503 without Retry-After fails the status check below
            time.sleep(0.02)

    with (
        fraiday(["server", "--port", str(port), "--workers", "2"], env, tmp_path / "server.log"),
        fraiday(WORKER, env, tmp_path / "worker.log"),
    ):
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/ping"), 20, what="server")
        producer = threading.Thread(target=produce)
        producer.start()
        time.sleep(1.5)
        redis_server.stop()
        time.sleep(size(2, 10))
        redis_server.start()
        time.sleep(2)
        stop.set()
        producer.join()
        wait_for(
            lambda: set(accepted) <= set(deliveries_by_event(receiver)),
            60,
            what="every accepted event delivered",
        )
    assert 503 in statuses, "the outage was visible as 503s"
    assert set(statuses) <= {202, 503}, f"only 202 and 503 answers: {sorted(set(statuses))}"
    assert statuses[-1] == 202, "the API recovered by itself"


def test_a_mongodb_outage_delays_but_loses_and_doubles_nothing(
    chaos_services: Services,
    receiver: HttpStub,
    redis_conn: redis.Redis,
    mongo_server: FerretDBServer | None,
    chaos_env: dict[str, str],
    tmp_path: Path,
) -> None:
    assert mongo_server is not None, "this test stops the harness's own MongoDB-wire server"
    receiver.script("/hook", Answer(204))
    subscribe(chaos_services, receiver)
    count = int(size(40, 400))
    client = TaskClient(redis_conn, REGISTRY, backoff_scale=size(0.2, 1.0))
    with fraiday(WORKER, chaos_env, tmp_path / "worker.log"):
        for i in range(count):
            client.enqueue("event:process", event(i, "mongo"))
            if i == count // 4:
                mongo_server.stop()
                outage_started = time.monotonic()
            if i == count // 2:
                time.sleep(max(0.0, size(3, 10) - (time.monotonic() - outage_started)))
                mongo_server.start()
            time.sleep(0.02)
        wait_for(lambda: len(deliveries_by_event(receiver)) == count, size(90, 240), what="all delivered")
    seen = deliveries_by_event(receiver)
    assert all(len(ids) == 1 for ids in seen.values())
    assert len(receiver.to("/hook")) == count, "nothing delivered twice"
    assert redis_conn.zcard("rq:failed:events") == 0


def test_a_receiver_failing_for_a_while_gets_everything_once_it_recovers(
    chaos_services: Services,
    receiver: HttpStub,
    redis_conn: redis.Redis,
    chaos_env: dict[str, str],
    tmp_path: Path,
) -> None:
    receiver.script("/hook", Answer(500, "down"))
    subscribe(chaos_services, receiver)
    count = 20
    client = TaskClient(redis_conn, REGISTRY, backoff_scale=size(0.2, 1.0))
    for i in range(count):
        client.enqueue("event:process", event(i, "flaky"))
    with fraiday(WORKER, chaos_env, tmp_path / "worker.log"):
        wait_for(lambda: len(receiver.to("/hook")) >= count, 30, what="first attempts")
        time.sleep(size(3, 60))
        receiver.script("/hook", Answer(204))
        wait_for(lambda: delivered_count(chaos_services) == count, size(60, 180), what="all delivered")
    records = chaos_services.db.deliveries.deliveries.find({})
    assert all(
        r["status"] == "delivered" and r["attempts"] >= 2 and r["last_status_code"] == 204 for r in records
    )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_a_soak_at_steady_load_does_not_grow_memory(
    chaos_services: Services, receiver: HttpStub, chaos_env: dict[str, str], tmp_path: Path
) -> None:
    receiver.script("/hook", Answer(204))
    subscribe(chaos_services, receiver)
    port = free_port()
    env = {**chaos_env, "FRAIDAY_API_KEYS": "soak"}
    duration = size(15, 600)
    # Full: a steady 4 requests/s for ten minutes (FerretDB's full scans set the pace a worker can keep).
    pause = size(0.05, 0.25)
    samples: list[tuple[float, float, float]] = []
    with (
        fraiday(["server", "--port", str(port), "--workers", "2"], env, tmp_path / "server.log") as server,
        fraiday(WORKER, env, tmp_path / "worker.log") as worker,
    ):
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/ping"), 20, what="server")
        session = requests.Session()
        session.headers["Authorization"] = "Bearer soak"
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < duration:
            response = session.post(
                f"http://127.0.0.1:{port}/api/v1/events", json=event(sent, "soak"), timeout=5
            )
            assert response.status_code == 202
            sent += 1
            if sent % int(size(20, 8)) == 0:
                samples.append((time.monotonic() - started, pss_mib(server.pid), pss_mib(worker.pid)))
            time.sleep(pause)
        wait_for(lambda: len(deliveries_by_event(receiver)) == sent, size(120, 600), what="soak delivered")
    half = samples[len(samples) // 2 :]
    for column, name in ((1, "server"), (2, "worker")):
        slope = _slope([(sample[0], sample[column]) for sample in half])
        print(f"soak {name}: {half[-1][column]} MiB PSS at the end, slope {slope * 60:.3f} MiB/min")
        assert half[-1][column] < 256
        if FULL:
            assert slope * 60 < 1.0, f"{name} memory still growing: {slope * 60:.3f} MiB/min"


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var if var else 0.0
