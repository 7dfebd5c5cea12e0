"""The registry refuses a table it cannot serve when it is built, not when a job arrives."""

from typing import Any

import pytest

from handlers.errors import UnknownTaskType
from handlers.payloads import Payload
from handlers.registry import Registry, TaskSpec
from handlers.retry import RetryPolicy


class KeyPayload(Payload):
    key: str


def handle(payload: Any, services: Any, task: Any) -> None:
    """Never called: the registry only holds it."""


def spec(name: str = "test:a", queue: str = "events", unique_fields: tuple[str, ...] = ()) -> TaskSpec:
    return TaskSpec(
        name=name,
        queue=queue,
        payload_model=KeyPayload,
        handler=handle,
        retry=RetryPolicy(max_attempts=3),
        timeout_seconds=30,
        unique_fields=unique_fields,
    )


def test_a_registry_without_task_types_is_refused() -> None:
    with pytest.raises(ValueError, match="a registry needs at least one task type"):
        Registry([])


@pytest.mark.parametrize("empty", [spec(name=""), spec(queue="")], ids=["name", "queue"])
def test_an_empty_name_or_queue_is_refused(empty: TaskSpec) -> None:
    with pytest.raises(ValueError, match="registered with an empty name or queue"):
        Registry([spec(name="test:ok"), empty])


def test_a_task_type_registered_twice_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="task type 'test:a' registered twice"):
        Registry([spec(), spec(queue="chat_workflow")])


def test_unique_fields_must_be_payload_fields() -> None:
    with pytest.raises(ValueError, match=r"test:a: unique fields \['nope'\] are not payload fields"):
        Registry([spec(unique_fields=("key", "nope"))])


def test_an_unknown_type_names_the_known_ones() -> None:
    registry = Registry([spec("test:b"), spec("test:a")])
    with pytest.raises(UnknownTaskType, match=r"unknown task type 'test:c'; known types: test:a, test:b"):
        registry.get("test:c")
    with pytest.raises(UnknownTaskType):
        registry.with_queues({"test:c": "events"})


def test_a_valid_table_keeps_its_order_and_lists_each_queue_once() -> None:
    registry = Registry([spec("test:b", "events"), spec("test:a", "chat_workflow"), spec("test:c", "events")])
    assert [s.name for s in registry] == ["test:b", "test:a", "test:c"]
    assert registry.queues == ["chat_workflow", "events"]
    assert registry.with_queues({"test:a": "events"}).queues == ["events"]
