"""Webhook delivery: one signed POST per attempt, and a verdict the handler records and acts on.

2xx is delivered; 410 Gone means the receiver wants no more (the subscription is deactivated); any other
4xx is the receiver refusing this request, so it is not retried; a 5xx, a timeout or a lost connection is
retried with the task's backoff. Redirects are not followed (3xx counts as a refusal): a redirect could
lead past the destination check. The POST goes to the address the check approved, never to a second
resolution of the name (see handlers/services/pinning.py). Of the answer's body only the start is read
(``body_start``): a receiver can answer with gigabytes. See docs/webhooks.md.
"""

import time
from dataclasses import dataclass
from enum import StrEnum

import requests
from opentelemetry.trace import SpanKind

from handlers.services.destinations import DestinationPolicy, UnsafeDestination
from handlers.services.http import CONNECT_TIMEOUT_SECONDS, body_start, excerpt, pooled_session
from handlers.services.pinning import PinnedAdapter, pin
from handlers.services.signing import SIGNATURE_HEADER, sign
from handlers.tracing import tracer

EVENT_HEADER = "X-Fraiday-Event"
DELIVERY_HEADER = "X-Fraiday-Delivery"


class Verdict(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    REJECTED = "rejected"
    RETRY = "retry"
    REFUSED = "refused"
    """Not sent: the destination is not allowed (SSRF guard)."""


@dataclass(frozen=True)
class Attempt:
    verdict: Verdict
    status_code: int | None
    error: str | None
    latency_ms: float


def verdict_for(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GONE
    if status >= 500 or status in (408, 429):
        return Verdict.RETRY
    return Verdict.REJECTED


class WebhookSender:
    def __init__(
        self, policy: DestinationPolicy, timeout_seconds: float, session: requests.Session | None = None
    ) -> None:
        self.policy = policy
        self.timeout = (CONNECT_TIMEOUT_SECONDS, timeout_seconds)
        self.session = session or pooled_session(adapter_class=PinnedAdapter)

    def send(self, url: str, secret: str, event_type: str, delivery_id: str, body: bytes) -> Attempt:
        attributes = {"fraiday.delivery_id": delivery_id}
        with tracer.start_as_current_span(
            f"webhook {event_type}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            attempt = self._send(url, secret, event_type, delivery_id, body)
            span.set_attribute("fraiday.webhook.verdict", attempt.verdict.value)
            return attempt

    def _send(self, url: str, secret: str, event_type: str, delivery_id: str, body: bytes) -> Attempt:
        started = time.perf_counter()

        def attempt(verdict: Verdict, status: int | None = None, error: str | None = None) -> Attempt:
            return Attempt(verdict, status, error, round((time.perf_counter() - started) * 1000, 2))

        try:
            destination = self.policy.check(url)
        except UnsafeDestination as exc:
            return attempt(Verdict.REFUSED, error=f"destination refused: {exc}")
        pinned_url, host = pin(url, destination.addresses[0])
        headers = {
            "Host": host,
            "Content-Type": "application/json",
            EVENT_HEADER: event_type,
            DELIVERY_HEADER: delivery_id,
            SIGNATURE_HEADER: sign(secret, body),
        }
        try:
            with self.session.post(
                pinned_url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                status, text = response.status_code, body_start(response)
        except requests.Timeout:
            return attempt(Verdict.RETRY, error=f"timed out after {self.timeout[1]}s")
        except requests.RequestException as exc:
            return attempt(Verdict.RETRY, error=f"connection failed: {type(exc).__name__}")
        verdict = verdict_for(status)
        if verdict is Verdict.DELIVERED:
            return attempt(verdict, status)
        detail = f"answered {status}: {excerpt(text)}" if text else f"answered {status}"
        return attempt(verdict, status, detail)
