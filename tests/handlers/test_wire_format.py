"""The job wire format names what exists: the dispatcher it names is the one workers run."""

import json
import zlib

import pytest
from rq.utils import import_attribute

from handlers import dispatch, wire_format


def test_the_job_function_names_the_dispatcher() -> None:
    assert import_attribute(wire_format.JOB_FUNCTION) is dispatch.run_task


def test_key_prefixes_are_rqs_own() -> None:
    assert wire_format.JOB_KEY_PREFIX == "rq:job:"
    assert wire_format.QUEUE_KEY_PREFIX == "rq:queue:"
    assert wire_format.worker_key("slot") == "rq:worker:slot"


def stored(function: object = wire_format.JOB_FUNCTION, args: object = None) -> bytes:
    """Job data the way RQ stores it: zlib-compressed JSON of [function, instance, args, kwargs]."""
    call = [function, None, ["test:count", {"key": "k"}] if args is None else args, {}]
    return zlib.compress(json.dumps(call).encode())


GOOD_META = json.dumps({wire_format.TASK_TYPE_META: "test:count"}).encode()


def test_a_job_as_the_task_client_writes_it_is_not_poison() -> None:
    assert wire_format.poison_reason(stored(), GOOD_META, b"events", "events") is None
    assert wire_format.poison_reason(stored(), None, b"events", "events") is None


@pytest.mark.parametrize(
    ("data", "meta", "origin", "kind", "detail"),
    [
        (stored("os.system", ["touch /tmp/x"]), GOOD_META, b"events", "function", "'os.system'"),
        (b"cos\nsystem\n(S'id'\ntR.", GOOD_META, b"events", "data", "not JSON"),
        (None, GOOD_META, b"events", "data", "no data"),
        (zlib.compress(b'{"a": 1}'), GOOD_META, b"events", "data", "not [function"),
        (stored(args=["test:count"]), GOOD_META, b"events", "data", "[task_type, payload]"),
        (stored(args=[1, {}]), GOOD_META, b"events", "data", "[task_type, payload]"),
        (zlib.compress(b"[" * 100_000), GOOD_META, b"events", "data", "not JSON"),
        (stored(), b"\x80\x04\x95pickled", b"events", "meta", "not a JSON object"),
        (stored(), b"[1, 2]", b"events", "meta", "not a JSON object"),
        (stored(), GOOD_META, b"semantic_layer", "origin", "'events'"),
        (stored(), GOOD_META, None, "origin", "'events'"),
    ],
)
def test_what_is_not_a_fraiday_job_and_why(
    data: bytes | None, meta: bytes | None, origin: bytes | None, kind: str, detail: str
) -> None:
    poison = wire_format.poison_reason(data, meta, origin, "events")
    assert poison is not None
    assert (poison.kind, detail in poison.detail) == (kind, True)
    assert str(poison).startswith("not a fraiday job: ")
