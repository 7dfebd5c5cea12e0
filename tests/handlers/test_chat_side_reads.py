"""A chat job's side reads: the context read during the message's claim and the webhook subscriptions
during the AI call, on a thread of the job's own; run for real against MongoDB and loopback HTTP stubs."""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo.errors import PyMongoError
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from config import Settings
from fraiday_cli.worker.thread_timeouts import ThreadDeathPenalty
from handlers import side_reads
from handlers.chat import chat_workflow
from handlers.metrics import SIDE_READ_DURATION
from handlers.services import Services
from handlers.side_reads import THREAD_NAME
from tests.conftest import settings_from
from tests.handlers.conftest import attempt
from tests.handlers.test_chat import HOOK, assistant_messages, chat_payload, conversation, mongo_commands
from tests.processes import wait_for
from tests.support.http_stub import Answer, HttpStub
from tests.support.mongo_outage import MongoOutage, mongo_outage

AI_SECONDS = 1.5
"""How long the AI stub takes to answer: the window the tests act in while the job waits."""


def side_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(THREAD_NAME)]


def side_reads_counted() -> Counter[str]:
    """Side reads so far in this process, by read (the handlers' metric)."""
    counts: Counter[str] = Counter()
    for metric in SIDE_READ_DURATION.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                counts[sample.labels["read"]] += int(sample.value)
    return counts


def subscription_reads() -> int:
    return mongo_commands()["find webhook_subscriptions"]


class Run:
    """A job run on a thread of its own, as in a slot's job thread; ``result`` re-raises its error."""

    def __init__(self, job: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(job,))
        self.thread.start()

    def _run(self, job: Callable[[], Any]) -> None:
        try:
            self.value = job()
        except BaseException as error:
            self.error = error

    def result(self) -> Any:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.value


@pytest.fixture
def slow_ai_settings(handler_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    return settings_from({**handler_env, "FRAIDAY_AI_TIMEOUT_SECONDS": "10"}, monkeypatch)


def test_the_answer_goes_to_the_subscriptions_active_when_it_was_asked_for(
    services: Services, stub: HttpStub
) -> None:
    """The subscriptions are read while the AI service works: one created during the AI call gets the
    next answer, not this one; one deleted during the call still gets this one."""
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}, delay=AI_SECONDS))
    setup = conversation(services, stub)
    reads = subscription_reads()

    run = Run(lambda: chat_workflow(chat_payload(setup), services, attempt(1)))
    wait_for(lambda: stub.to("/v1/chat") and subscription_reads() > reads, AI_SECONDS, what="the read")
    services.db.subscriptions.create("acme", stub.script("/hooks/later", Answer(200)), ["*"])
    assert services.db.subscriptions.delete("acme", str(setup["subscription"]["_id"]))
    changed_at = time.time()
    assert run.result()["deliveries"] == {"delivered": 1}

    (ai_call,) = stub.to("/v1/chat")
    assert changed_at < ai_call.received_at + AI_SECONDS  # changed while the AI call was in flight
    (hook,) = stub.to(HOOK)
    assert hook.json()["data"]["content"] == "It ships tomorrow."
    assert stub.to("/hooks/later") == []
    assert subscription_reads() == reads + 1

    nxt = services.db.chat.add_user_message(setup["session"], "And the invoice?", suggestion_mode=False)
    chat_workflow(chat_payload({**setup, "message": nxt}), services, attempt(1))
    assert len(stub.to("/hooks/later")) == 1
    assert len(stub.to(HOOK)) == 1


def test_the_context_and_the_subscriptions_are_read_on_the_side_thread(
    services: Services, stub: HttpStub, caplog: pytest.LogCaptureFixture
) -> None:
    """The job's other commands are its own, in order; pymongo logs each in the thread that ran it."""
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}))
    setup = conversation(services, stub)
    caplog.set_level(logging.DEBUG, logger="fraiday.mongodb")
    before = side_reads_counted()
    chat_workflow(chat_payload(setup), services, attempt(1))
    assert side_reads_counted() - before == Counter({"session_context": 1, "webhook_subscriptions": 1})

    ran = [
        (
            f"{record.__dict__['operation']} {record.__dict__['collection']}",
            record.threadName.startswith(THREAD_NAME),
        )
        for record in caplog.records
        if record.name == "fraiday.mongodb"
    ]
    assert sorted(command for command, on_side in ran if on_side) == [
        "find chat_messages",
        "find webhook_subscriptions",
    ]
    assert [command for command, on_side in ran if not on_side] == [
        "findAndModify chat_messages",
        "find chat_messages",  # the session's latest id, after the AI call
        "insert chat_messages",
        "update chat_messages",
        "insert webhook_deliveries",
    ]


@pytest.fixture
def outage(mongodb_uri: str) -> Iterator[MongoOutage]:
    with mongo_outage(mongodb_uri) as proxy:
        yield proxy


@pytest.fixture
def behind_outage(
    handler_env: dict[str, str], outage: MongoOutage, mongodb_uri: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """Services whose MongoDB is reached through the outage proxy, failing a read within a second."""
    env = {**handler_env, "MONGODB_URI": outage.uri(mongodb_uri), "FRAIDAY_AI_TIMEOUT_SECONDS": "10"}
    built = Services(settings_from(env, monkeypatch), appname="fraiday-test", mongo_timeout_ms=1000)
    assert built.db  # its indexes ensured before any outage (they name every collection)
    yield built
    built.close()


def test_mongodb_down_during_the_ai_call_and_back_before_its_answer_ends_the_job_as_before(
    services: Services, behind_outage: Services, outage: MongoOutage, stub: HttpStub
) -> None:
    """The subscriptions' side read keeps trying within its bound and gets them once MongoDB is back."""
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}, delay=AI_SECONDS))
    setup = conversation(services, stub)
    outage.down_at("webhook_subscriptions")

    run = Run(lambda: chat_workflow(chat_payload(setup), behind_outage, attempt(1)))
    wait_for(lambda: outage.is_down and stub.to("/v1/chat"), AI_SECONDS, what="the outage")
    outage.up()
    assert run.result()["deliveries"] == {"delivered": 1}
    assert_answered_once(services, stub, setup)


def test_a_side_read_that_gives_up_is_made_again_where_the_job_needs_it(
    services: Services,
    behind_outage: Services,
    outage: MongoOutage,
    stub: HttpStub,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Down longer than the side read's bound (shortened here), back before the AI answers: the job
    reads the subscriptions after storing the answer, where the sequential job read them."""
    monkeypatch.setattr(side_reads, "SIDE_READ_TIMEOUT_SECONDS", 0.5)
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}, delay=AI_SECONDS * 2))
    setup = conversation(services, stub)
    outage.down_at("webhook_subscriptions")
    caplog.set_level(logging.WARNING, logger="fraiday.task")

    run = Run(lambda: chat_workflow(chat_payload(setup), behind_outage, attempt(1)))
    wait_for(
        lambda: "side read webhook_subscriptions failed" in caplog.text,
        AI_SECONDS * 2,
        what="the side read to give up",
    )
    assert outage.is_down and stub.to("/v1/chat")  # the AI call is in flight, MongoDB down
    outage.up()
    assert run.result()["deliveries"] == {"delivered": 1}
    assert_answered_once(services, stub, setup)


def assert_answered_once(services: Services, stub: HttpStub, setup: dict[str, Any]) -> None:
    assert len(stub.to("/v1/chat")) == 1
    (hook,) = stub.to(HOOK)
    (reply,) = assistant_messages(services, setup)
    assert hook.json()["data"]["reply_message_id"] == str(reply["_id"])
    assert services.db.chat.get_message(setup["message"]["_id"])["status"] == "completed"
    (record,) = services.db.deliveries.for_source(f"reply:{setup['message']['_id']}")
    assert (record["status"], record["attempts"]) == ("delivered", 1)


def test_mongodb_down_from_the_ai_call_on_fails_the_attempt_and_the_retry_delivers_once(
    services: Services,
    behind_outage: Services,
    outage: MongoOutage,
    stub: HttpStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Still down after the AI call: the attempt fails storing the answer, as the sequential job did,
    with nothing sent, and its side thread gives up within its bound (shortened here) while MongoDB is
    still down; the retry asks again, stores one reply and sends one webhook."""
    monkeypatch.setattr(side_reads, "SIDE_READ_TIMEOUT_SECONDS", 0.5)
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}, delay=AI_SECONDS))
    setup = conversation(services, stub)
    outage.down_at("webhook_subscriptions")

    with pytest.raises(PyMongoError):
        chat_workflow(chat_payload(setup), behind_outage, attempt(1))
    assert len(stub.to("/v1/chat")) == 1
    assert stub.to(HOOK) == []
    wait_for(lambda: not side_threads(), 5, what="the side thread to exit")
    assert outage.is_down

    outage.up()
    assert chat_workflow(chat_payload(setup), behind_outage, attempt(2))["deliveries"] == {"delivered": 1}
    assert len(stub.to("/v1/chat")) == 2  # asked again: the first answer was never stored
    assert len(stub.to(HOOK)) == 1
    assert len(assistant_messages(services, setup)) == 1
    (record,) = services.db.deliveries.for_source(f"reply:{setup['message']['_id']}")
    assert (record["status"], record["attempts"]) == ("delivered", 1)


def _in_main_thread(job: Callable[[], Any]) -> Any:
    """A one-thread slot: SIGALRM interrupts the main thread."""
    with UnixSignalDeathPenalty(1, JobTimeoutException):
        return job()


def _in_job_thread(job: Callable[[], Any]) -> Any:
    """A slot's job thread: an asynchronous exception interrupts it."""

    def timed() -> Any:
        with ThreadDeathPenalty(1):
            return job()

    return Run(timed).result()


@pytest.mark.parametrize("run_job", [_in_main_thread, _in_job_thread], ids=["signal", "job-thread"])
def test_a_job_timeout_during_the_ai_call_leaves_no_side_thread_running(
    services: Services, slow_ai_settings: Settings, stub: HttpStub, run_job: Callable[..., Any]
) -> None:
    stub.script("/v1/chat", Answer(200, {"reply": "Too late."}, delay=AI_SECONDS))
    setup = conversation(services, stub)
    slow_ai = Services(slow_ai_settings, appname="fraiday-test")
    seen: list[list[threading.Thread]] = []

    def watch() -> None:
        wait_for(lambda: stub.to("/v1/chat"), AI_SECONDS, what="the AI call")
        seen.append(side_threads())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(JobTimeoutException):
            run_job(lambda: chat_workflow(chat_payload(setup), slow_ai, attempt(1)))
        watcher.join()
        assert len(seen) == 1 and len(seen[0]) == 1  # the side thread was there during the AI call
        assert seen[0][0].daemon  # a stopping worker would not wait for it either
        wait_for(lambda: not side_threads(), 5, what="the side thread to exit")
        assert stub.to(HOOK) == []
    finally:
        slow_ai.close()


def test_a_job_thread_waiting_on_a_side_read_of_a_down_mongodb_is_stopped_at_its_timeout(
    handler_env: dict[str, str], outage: MongoOutage, mongodb_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An asynchronous exception lands when the job thread next runs Python code; pymongo's own waits
    poll every 0.5 s, so the sequential job was stopped promptly. Waiting on a side read must be as
    prompt, or a timeout and the grace period's interrupt (followed by SIGKILL 5 s later) land only when
    the read gives up (its bound, 10 s: it took 10.5 s here before the job waited in slices)."""
    monkeypatch.setattr(side_reads, "SIDE_READ_TIMEOUT_SECONDS", 4)  # still past the 2.5 s asserted
    env = {**handler_env, "MONGODB_URI": outage.uri(mongodb_uri)}
    behind = Services(settings_from(env, monkeypatch), appname="fraiday-test")  # a worker's timeouts
    try:
        assert behind.db
        outage.down()

        def job() -> Any:
            with side_reads.SideReads() as side:
                read = side.start("webhook_subscriptions", behind.db.subscriptions.matching, "acme", "x")
                return read.result()

        started = time.monotonic()
        with pytest.raises(JobTimeoutException):
            _in_job_thread(job)
        assert time.monotonic() - started < 2.5  # a 1 s timeout, stopped within pymongo's 0.5 s poll
        wait_for(lambda: not side_threads(), 6, what="the side thread to give up")
    finally:
        behind.close()
