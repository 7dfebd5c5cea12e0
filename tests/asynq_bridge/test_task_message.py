"""The committed descriptor set is protoc's reading of Asynq's .proto, and decodes what Asynq writes."""

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from fraiday_cli.asynq_bridge.payloads import payload_of
from fraiday_cli.asynq_bridge.task_message import AsynqTask, BadTask, decode, message_class
from handlers.task_types import REGISTRY

PACKAGE = Path(__file__).resolve().parents[2] / "fraiday_cli" / "asynq_bridge"


def test_the_descriptor_set_is_generated_from_the_vendored_proto(tmp_path: Path) -> None:
    fresh = tmp_path / "asynq.protoset"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PACKAGE}",
            "--include_imports",
            f"--descriptor_set_out={fresh}",
            "asynq.proto",
        ],
        check=True,
        timeout=60,
    )
    committed = descriptor_pb2.FileDescriptorSet.FromString((PACKAGE / "asynq.protoset").read_bytes())
    assert descriptor_pb2.FileDescriptorSet.FromString(fresh.read_bytes()) == committed, (
        "asynq.protoset is stale: regenerate it (see fraiday_cli/asynq_bridge/task_message.py)"
    )


def test_a_task_message_round_trips() -> None:
    message = message_class()(
        type="event:process", id="7d1c", queue="events", payload=b'{"a": 1}', retried=2, unique_key="k"
    )
    task = decode(message.SerializeToString())
    assert (task.type, task.id, task.queue, task.payload, task.retried, task.unique_key) == (
        "event:process",
        "7d1c",
        "events",
        b'{"a": 1}',
        2,
        "k",
    )


@pytest.mark.parametrize("raw", [b"\x00\x01 not protobuf", b"", b"\x08\x01"])
def test_bytes_that_are_not_a_task_message_are_refused(raw: bytes) -> None:
    with pytest.raises(BadTask, match="not an Asynq TaskMessage"):
        decode(raw)


def test_a_payload_nested_thousands_deep_is_a_bad_task_not_a_crash() -> None:
    task = AsynqTask("deep", "EventProcessor", "events", b"[" * 5000 + b"]" * 5000, 0, "")
    with pytest.raises(BadTask, match="is not JSON"):
        payload_of(task, REGISTRY.get("event:process"))
