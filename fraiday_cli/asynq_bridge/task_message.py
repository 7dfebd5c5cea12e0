"""Asynq's ``TaskMessage``, decoded by the protobuf package from Asynq's own ``.proto``.

Asynq keeps each task in the hash ``asynq:{<queue>}:t:<id>``, whose ``msg`` field is a protobuf
``TaskMessage`` (``asynq.proto`` beside this file, as Asynq v0.26.0 publishes it). The message class is
built at first use from ``asynq.protoset``, the descriptor set protoc makes of that file, instead of
committing protoc's generated ``asynq_pb2.py``: generated modules are tied to the protobuf runtime that
generated them (they refuse an older runtime, and protobuf asks that they not be checked in), while a
descriptor set is plain protobuf data every runtime reads. Regenerate it after changing the .proto:

    python -m grpc_tools.protoc -I fraiday_cli/asynq_bridge --include_imports \\
        --descriptor_set_out=fraiday_cli/asynq_bridge/asynq.protoset asynq.proto

(tests/asynq_bridge/test_task_message.py fails while the two disagree).
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

DESCRIPTOR_SET = "asynq.protoset"
MESSAGE_NAME = "asynq.TaskMessage"


class BadTask(ValueError):
    """The task cannot become a fraiday task; the message says why, for the dead-letter list."""


@dataclass(frozen=True)
class AsynqTask:
    id: str
    type: str
    queue: str
    payload: bytes
    retried: int
    unique_key: str


@cache
def message_class() -> type[Message]:
    """A private descriptor pool, so Asynq's ``asynq`` package cannot clash with anything else loaded."""
    files = descriptor_pb2.FileDescriptorSet.FromString(
        resources.files(__package__).joinpath(DESCRIPTOR_SET).read_bytes()
    )
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:  # imports first: protoc writes them in dependency order
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(MESSAGE_NAME))


def decode(raw: bytes) -> AsynqTask:
    try:
        message: Any = message_class().FromString(raw)  # built at run time: its fields are not typed
    except DecodeError as error:
        raise BadTask(f"not an Asynq TaskMessage: {error}") from None
    # Protobuf reads many byte strings as some message; a task always has a type and an id.
    if not message.type or not message.id:
        raise BadTask("not an Asynq TaskMessage: it has no type or id")
    return AsynqTask(
        id=message.id,
        type=message.type,
        queue=message.queue,
        payload=message.payload,
        retried=message.retried,
        unique_key=message.unique_key,
    )
