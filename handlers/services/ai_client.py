"""The AI service client: chat replies, suggestions and semantic-layer syncs (see docs/ai-service.md).

Failures are classified for the task's retry policy: a 5xx, a timeout or a lost connection is transient
(:class:`AIServiceUnavailable`, retried with backoff); a 4xx or an answer that is not the documented JSON
is permanent (:class:`AIServiceRejected`), because sending the same request again will not change it.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import requests
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ConfigDict, ValidationError

from handlers.errors import PermanentError
from handlers.metrics import AI_REQUEST_DURATION
from handlers.services.http import CONNECT_TIMEOUT_SECONDS, excerpt, pooled_session
from handlers.tracing import current_carrier, tracer

Mode = Literal["reply", "suggestion"]

log = logging.getLogger("fraiday.ai")


class AIServiceUnavailable(Exception):
    """Transient: retry later."""


class AIServiceRejected(PermanentError):
    """Permanent: the service refused the request or answered something we cannot use."""


class AIServiceNotConfigured(PermanentError):
    pass


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ReplyAnswer(_Answer):
    reply: str


class SuggestionsAnswer(_Answer):
    suggestions: list[str]


class SyncAnswer(_Answer):
    job_id: str
    status: str


AnswerT = TypeVar("AnswerT", bound=_Answer)


@dataclass(frozen=True)
class ContextMessage:
    role: str
    content: str
    created_at: str


class AIClient:
    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        *,
        chat_path: str,
        sync_path: str,
        read_timeout_seconds: float,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url
        self.chat_path = chat_path
        self.sync_path = sync_path
        self.timeout = (CONNECT_TIMEOUT_SECONDS, read_timeout_seconds)
        self.session = session or pooled_session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def reply(self, session_id: str, message_id: str, content: str, context: Sequence[ContextMessage]) -> str:
        body = self._chat_body(session_id, message_id, "reply", content, context)
        return self._post("reply", self.chat_path, body, ReplyAnswer).reply

    def suggestions(
        self, session_id: str, message_id: str, content: str, context: Sequence[ContextMessage]
    ) -> list[str]:
        body = self._chat_body(session_id, message_id, "suggestion", content, context)
        return self._post("suggestion", self.chat_path, body, SuggestionsAnswer).suggestions

    def sync(self, client_id: str, sync_type: str) -> SyncAnswer:
        return self._post(
            "sync", self.sync_path, {"client_id": client_id, "sync_type": sync_type}, SyncAnswer
        )

    @staticmethod
    def _chat_body(
        session_id: str, message_id: str, mode: Mode, content: str, context: Sequence[ContextMessage]
    ) -> dict[str, Any]:
        return {
            "session_id": session_id,
            "message_id": message_id,
            "mode": mode,
            "message": {"role": "user", "content": content},
            "context": [{"role": m.role, "content": m.content, "created_at": m.created_at} for m in context],
        }

    def _post(self, call: str, path: str, body: dict[str, Any], answer: type[AnswerT]) -> AnswerT:
        if not self.base_url:
            raise AIServiceNotConfigured("AI_SERVICE_URL is not set")
        with tracer.start_as_current_span(f"ai {call}", kind=SpanKind.CLIENT, attributes={"url.path": path}):
            return self._send(call, path, self.base_url + path, body, answer)

    def _send(self, call: str, path: str, url: str, body: dict[str, Any], answer: type[AnswerT]) -> AnswerT:
        started = time.perf_counter()
        status = "error"
        try:
            response = self.session.post(
                url, json=body, headers=current_carrier(), timeout=self.timeout, allow_redirects=False
            )
            status = str(response.status_code)
        except requests.Timeout:
            status = "timeout"
            raise AIServiceUnavailable(f"AI service timed out ({path})") from None
        except requests.RequestException as exc:
            raise AIServiceUnavailable(f"AI service unreachable ({path}): {type(exc).__name__}") from None
        finally:
            seconds = time.perf_counter() - started
            AI_REQUEST_DURATION.labels(call, status).observe(seconds)
            # The task's fields (task_id, attempt, ...) come from the log context the dispatcher binds.
            duration_ms = round(seconds * 1000, 2)
            fields = {"call": call, "status": status, "path": path, "duration_ms": duration_ms}
            log.info("ai %s answered %s in %.0f ms", call, status, duration_ms, extra=fields)
        if response.status_code >= 500 or response.status_code == 429:
            raise AIServiceUnavailable(
                f"AI service answered {response.status_code} ({path}): {excerpt(response.text)}"
            )
        if response.status_code != 200:
            raise AIServiceRejected(
                f"AI service answered {response.status_code} ({path}): {excerpt(response.text)}"
            )
        try:
            return answer.model_validate_json(response.content)
        except ValidationError:
            raise AIServiceRejected(
                f"AI service answered 200 with an unusable body ({path}): {excerpt(response.text)}"
            ) from None
