"""Weighted dequeue: over many dequeues from full queues, each queue's share matches its weight."""

import random
from collections import Counter

import redis

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.task_queue import queue_for
from fraiday_cli.worker.queue_order import strict_order, weighted_order
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers.wire_format import SERIALIZER
from tests.support.tasks import REGISTRY

WEIGHTS = {"chat_workflow": 6, "events": 3, "semantic_layer": 2}
TYPES = {"chat_workflow": "test:count_chat", "events": "test:count", "semantic_layer": "test:count_sync"}


def test_weighted_order_puts_each_queue_first_in_proportion_to_its_weight() -> None:
    rng = random.Random(7)
    firsts = Counter(weighted_order(["a", "b", "c"], [6, 3, 2], rng)[0] for _ in range(20000))
    assert abs(firsts["a"] / 20000 - 6 / 11) < 0.02
    assert abs(firsts["b"] / 20000 - 3 / 11) < 0.02
    assert abs(firsts["c"] / 20000 - 2 / 11) < 0.02


def test_strict_order_is_by_weight() -> None:
    assert strict_order(["low", "high", "mid"], [2, 6, 3]) == ["high", "mid", "low"]


def test_a_slot_dequeues_from_real_queues_by_weight(settings: Settings, redis_conn: redis.Redis) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    per_queue = 2200
    for queue, task_type in TYPES.items():
        for i in range(per_queue):
            client.enqueue(task_type, {"key": f"{queue}-{i}"})
    queues = [queue_for(name, redis_conn) for name in WEIGHTS]
    worker = SlotWorker(queues, connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy(WEIGHTS))
    worker._rng = random.Random(7)  # the slot's own draw, seeded so the shares are the same on every run
    taken: Counter[str] = Counter()
    draws = 2200  # no queue runs dry, so every draw is a free choice
    for _ in range(draws):
        result = worker.dequeue_job_and_maintain_ttl(timeout=1)
        assert result is not None
        taken[result[1].name] += 1
    for name, weight in WEIGHTS.items():
        assert abs(taken[name] / draws - weight / 11) < 0.04, taken


def test_strict_mode_drains_the_heaviest_queue_first(settings: Settings, redis_conn: redis.Redis) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    for queue, task_type in TYPES.items():
        for i in range(5):
            client.enqueue(task_type, {"key": f"{queue}-{i}"})
    queues = [queue_for(name, redis_conn) for name in WEIGHTS]
    worker = SlotWorker(
        queues, connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy(WEIGHTS, strict=True)
    )
    order = []
    for _ in range(15):
        result = worker.dequeue_job_and_maintain_ttl(timeout=1)
        assert result is not None
        order.append(result[1].name)
    assert order == ["chat_workflow"] * 5 + ["events"] * 5 + ["semantic_layer"] * 5
