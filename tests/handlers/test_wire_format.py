"""The job wire format names what exists: the dispatcher it names is the one workers run."""

from rq.utils import import_attribute

from handlers import dispatch, wire_format


def test_the_job_function_names_the_dispatcher() -> None:
    assert import_attribute(wire_format.JOB_FUNCTION) is dispatch.run_task


def test_key_prefixes_are_rqs_own() -> None:
    assert wire_format.JOB_KEY_PREFIX == "rq:job:"
    assert wire_format.QUEUE_KEY_PREFIX == "rq:queue:"
    assert wire_format.worker_key("slot") == "rq:worker:slot"
