"""The chat and suggestion workflows, run for real against MongoDB and loopback HTTP stubs."""

import json
from collections import Counter
from typing import Any

import pytest

from handlers.chat import MessageNotFound, chat_workflow, suggestion_workflow
from handlers.metrics import MONGO_OPERATION_DURATION
from handlers.notify import DeliveriesOutstanding
from handlers.payloads import ChatWorkflowPayload, SuggestionWorkflowPayload
from handlers.services import Services
from handlers.services.ai_client import AIServiceRejected, AIServiceUnavailable
from handlers.services.database.documents import InvalidId
from handlers.services.signing import verify
from tests.handlers.conftest import AI_TOKEN, attempt
from tests.support.http_stub import Answer, HttpStub

HOOK = "/hooks/acme"


def conversation(services: Services, stub: HttpStub, content: str = "Where is my order?") -> dict[str, Any]:
    chat = services.db.chat
    session = chat.create_session("acme", {"channel": "web"})
    earlier = chat.add_user_message(session, "Hello", suggestion_mode=False)
    chat.save_assistant(earlier, chat_kind("reply"), "Hi! How can I help?", [])
    message = chat.add_user_message(session, content, suggestion_mode=False)
    subscription = services.db.subscriptions.create(
        "acme", stub.script(HOOK, Answer(200)), ["chat.response", "chat.suggestion"]
    )
    return {"session": session, "message": message, "subscription": subscription}


def chat_kind(name: str) -> Any:
    from handlers.services.database.chat import MessageKind

    return MessageKind(name)


def chat_payload(setup: dict[str, Any], suggestion_mode: bool = False) -> ChatWorkflowPayload:
    return ChatWorkflowPayload(
        message_id=str(setup["message"]["_id"]),
        session_id=str(setup["session"]["_id"]),
        suggestion_mode=suggestion_mode,
    )


def assistant_messages(services: Services, setup: dict[str, Any]) -> list[dict[str, Any]]:
    return list(services.db.chat.messages.find({"reply_to": setup["message"]["_id"]}))


def test_a_chat_job_stores_one_reply_and_sends_one_signed_webhook(services: Services, stub: HttpStub) -> None:
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow.", "model": "ignored"}))
    setup = conversation(services, stub)
    result = chat_workflow(chat_payload(setup), services, attempt(1))

    (ai_call,) = stub.to("/v1/chat")
    assert ai_call.headers["Authorization"] == f"Bearer {AI_TOKEN}"
    sent = ai_call.json()
    assert sent["mode"] == "reply"
    assert sent["message"] == {"role": "user", "content": "Where is my order?"}
    assert [(m["role"], m["content"]) for m in sent["context"]] == [
        ("user", "Hello"),
        ("assistant", "Hi! How can I help?"),
    ]

    (reply,) = assistant_messages(services, setup)
    assert (reply["role"], reply["content"], reply["status"]) == (
        "assistant",
        "It ships tomorrow.",
        "completed",
    )
    assert reply["created_at"].tzinfo is not None
    assert services.db.chat.get_message(setup["message"]["_id"])["status"] == "completed"
    assert result["reply_message_id"] == str(reply["_id"])

    (hook,) = stub.to(HOOK)
    assert hook.headers["X-Fraiday-Event"] == "chat.response"
    assert len(hook.headers["X-Fraiday-Delivery"]) == 32
    # Verified as a receiver would: the raw body, the shared secret, a fresh timestamp.
    verify(setup["subscription"]["secret"], hook.body, hook.headers["X-Fraiday-Signature"])
    body = hook.json()
    assert body["type"] == "chat.response" and body["id"] == str(reply["_id"])
    assert body["data"]["content"] == "It ships tomorrow."
    assert body["data"]["message_id"] == str(setup["message"]["_id"])


def test_running_the_same_chat_job_twice_duplicates_nothing(services: Services, stub: HttpStub) -> None:
    stub.script("/v1/chat", Answer(200, {"reply": "Once."}))
    setup = conversation(services, stub)
    chat_workflow(chat_payload(setup), services, attempt(1))
    chat_workflow(chat_payload(setup), services, attempt(1))
    assert len(assistant_messages(services, setup)) == 1
    assert len(stub.to("/v1/chat")) == 1
    assert len(stub.to(HOOK)) == 1
    (record,) = services.db.deliveries.for_source(f"reply:{setup['message']['_id']}")
    assert (record["status"], record["attempts"], record["last_status_code"]) == ("delivered", 1, 200)


def mongo_commands() -> Counter[str]:
    """MongoDB commands sent so far in this process, by operation and collection (the handlers' metric)."""
    counts: Counter[str] = Counter()
    for metric in MONGO_OPERATION_DURATION.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                counts[f"{sample.labels['operation']} {sample.labels['collection']}"] += int(sample.value)
    return counts


def test_a_chat_job_on_a_pending_message_costs_seven_mongodb_commands(
    services: Services, stub: HttpStub
) -> None:
    """Reading, checking and marking the message is one command, and a delivery of a reply stored just
    now is recorded once, after it is sent. Two of the seven are side reads the job does not wait for
    (tests/handlers/test_chat_side_reads.py): the context, read during the claim, and the subscriptions,
    read during the AI call."""
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}))
    setup = conversation(services, stub)
    before = mongo_commands()
    chat_workflow(chat_payload(setup), services, attempt(1))
    assert mongo_commands() - before == Counter(
        {
            "findAndModify chat_messages": 1,  # the pending message, now processing
            "find chat_messages": 2,  # the context (a side read), then the session's latest id
            "insert chat_messages": 1,  # the reply
            "update chat_messages": 1,  # the message completed
            "find webhook_subscriptions": 1,  # a side read
            "insert webhook_deliveries": 1,  # the delivery, with its outcome
        }
    )


def test_a_webhook_sent_but_never_recorded_is_sent_again_with_the_same_delivery_id(
    services: Services, stub: HttpStub
) -> None:
    """A worker that dies between the receiver's answer and the delivery record leaves no record (the
    first attempt of a reply stored in the same run opens none before sending). The retry finds the
    stored reply, creates the record and sends again under the delivery id the receiver saw first, so
    the receiver can drop the duplicate."""
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}))
    setup = conversation(services, stub)
    chat_workflow(chat_payload(setup), services, attempt(1))
    source = f"reply:{setup['message']['_id']}"
    assert services.db.deliveries.deliveries.delete_many({"source": source}).deleted_count == 1

    assert chat_workflow(chat_payload(setup), services, attempt(2))["deliveries"] == {"delivered": 1}

    first, second = stub.to(HOOK)
    assert first.headers["X-Fraiday-Delivery"] == second.headers["X-Fraiday-Delivery"]
    assert first.body == second.body
    (record,) = services.db.deliveries.for_source(source)
    assert (record["delivery_id"], record["status"], record["attempts"]) == (
        first.headers["X-Fraiday-Delivery"],
        "delivered",
        1,
    )
    assert len(stub.to("/v1/chat")) == 1


def test_a_reply_s_first_delivery_that_failed_is_retried_under_its_delivery_id(
    services: Services, stub: HttpStub
) -> None:
    """The record written after a first attempt is the one the retry reads: a 503 is sent again with
    the same delivery id and counted on the same record."""
    stub.script("/v1/chat", Answer(200, {"reply": "It ships tomorrow."}))
    setup = conversation(services, stub)
    stub.script(HOOK, Answer(503, "busy"), Answer(200))
    with pytest.raises(DeliveriesOutstanding):
        chat_workflow(chat_payload(setup), services, attempt(1))
    (record,) = services.db.deliveries.for_source(f"reply:{setup['message']['_id']}")
    assert (record["status"], record["attempts"], record["last_status_code"]) == ("retrying", 1, 503)

    chat_workflow(chat_payload(setup), services, attempt(2))

    first, second = stub.to(HOOK)
    assert first.headers["X-Fraiday-Delivery"] == second.headers["X-Fraiday-Delivery"]
    assert first.headers["X-Fraiday-Delivery"] == record["delivery_id"]
    (record,) = services.db.deliveries.for_source(f"reply:{setup['message']['_id']}")
    assert (record["status"], record["attempts"], record["last_status_code"]) == ("delivered", 2, 200)


def test_a_pending_message_whose_answer_is_already_stored_keeps_that_answer(
    services: Services, stub: HttpStub
) -> None:
    """Two runs raced: one stored the reply, the other failed and put the message back to pending. The
    next run asks again (the price of not looking first) but stores and delivers the first reply only."""
    stub.script("/v1/chat", Answer(200, {"reply": "Second."}))
    setup = conversation(services, stub)
    first, _ = services.db.chat.save_assistant(setup["message"], chat_kind("reply"), "First.", [])

    result = chat_workflow(chat_payload(setup), services, attempt(2))

    assert result["reply_message_id"] == str(first["_id"])
    assert [m["content"] for m in assistant_messages(services, setup)] == ["First."]
    assert [hook.json()["data"]["content"] for hook in stub.to(HOOK)] == ["First."]
    assert services.db.chat.get_message(setup["message"]["_id"])["status"] == "completed"


def test_a_suggestion_job_stores_suggestions_and_sends_chat_suggestion(
    services: Services, stub: HttpStub
) -> None:
    stub.script("/v1/chat", Answer(200, {"suggestions": ["Track order", "Talk to a human"]}))
    setup = conversation(services, stub)
    payload = SuggestionWorkflowPayload(
        message_id=str(setup["message"]["_id"]), session_id=str(setup["session"]["_id"])
    )
    suggestion_workflow(payload, services, attempt(1))
    assert stub.to("/v1/chat")[0].json()["mode"] == "suggestion"
    (stored,) = assistant_messages(services, setup)
    assert (stored["kind"], stored["suggestions"]) == ("suggestions", ["Track order", "Talk to a human"])
    (hook,) = stub.to(HOOK)
    assert hook.headers["X-Fraiday-Event"] == "chat.suggestion"
    assert hook.json()["data"]["suggestions"] == ["Track order", "Talk to a human"]


def test_a_503_is_retried_and_the_next_attempt_succeeds(services: Services, stub: HttpStub) -> None:
    stub.script("/v1/chat", Answer(503, "overloaded"), Answer(200, {"reply": "Back."}))
    setup = conversation(services, stub)
    with pytest.raises(AIServiceUnavailable, match="503"):
        chat_workflow(chat_payload(setup), services, attempt(1))
    message = services.db.chat.get_message(setup["message"]["_id"])
    assert message["status"] == "pending"
    assert "attempt 1: AI service answered 503" in message["error"]
    chat_workflow(chat_payload(setup), services, attempt(2))
    assert services.db.chat.get_message(setup["message"]["_id"])["status"] == "completed"
    assert len(assistant_messages(services, setup)) == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            Answer(400, {"error": "content too long"}),
            'AI service answered 400 (/v1/chat): {"error": "content too long"}',
        ),
        (
            Answer(200, "<html>oops</html>"),
            "AI service answered 200 with an unusable body (/v1/chat): <html>oops</html>",
        ),
        (Answer(200, {"reply": 42}), "unusable body"),
    ],
)
def test_a_refusal_or_garbage_fails_the_message_without_retry(
    services: Services, stub: HttpStub, answer: Answer, error: str
) -> None:
    stub.script("/v1/chat", answer)
    setup = conversation(services, stub)
    with pytest.raises(AIServiceRejected):  # a PermanentError: the worker skips the remaining retries
        chat_workflow(chat_payload(setup), services, attempt(1))
    message = services.db.chat.get_message(setup["message"]["_id"])
    assert message["status"] == "failed"
    assert error in message["error"]
    assert assistant_messages(services, setup) == []
    assert stub.to(HOOK) == []


def test_a_missing_message_fails_without_retry(services: Services, stub: HttpStub) -> None:
    payload = ChatWorkflowPayload(message_id="0" * 24, session_id="1" * 24)
    with pytest.raises(MessageNotFound, match="no user message 000000000000000000000000"):
        chat_workflow(payload, services, attempt(1))
    assert stub.requests == []


def test_a_malformed_id_is_a_clear_error(services: Services) -> None:
    with pytest.raises(InvalidId, match="message_id 'nope' is not a valid id"):
        services.db.chat.get_message("nope")


def test_the_session_context_is_the_last_n_messages_oldest_first(services: Services) -> None:
    chat = services.db.chat
    session = chat.create_session("acme")
    messages = [chat.add_user_message(session, f"m{i}", suggestion_mode=False) for i in range(6)]
    context = chat.session_context(messages[-1], limit=3)
    assert [m["content"] for m in context] == ["m2", "m3", "m4"]
    assert json.dumps([m["content"] for m in chat.session_context(messages[0], limit=3)]) == "[]"
