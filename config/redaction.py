"""Error texts we keep or show are cut short and stripped of every configured secret.

An upstream service can put anything in an error body, the credentials we sent it included (an AI
service that echoes the ``Authorization`` header in its 401), and error texts travel far: a task's
``last_error`` in the API, a chat message's ``error``, webhook delivery records, ``fraiday jobs``, logs.
So every place that records an error passes it through one :class:`Redactor` built from the settings'
secrets; a delivery adds its subscription's signing secret for that one text.
"""

from collections.abc import Iterable

MASK = "[redacted]"
CUT = "…"
"""Where a text was cut short, here or upstream (an error body's excerpt): a secret may end there."""
MIN_SECRET_CHARS = 4
"""Shorter values would mask ordinary words; settings refuse secrets this short anyway in practice."""

ERROR_CHARS = 500
"""An error text kept on a record or answered by the API: enough to say what happened."""

TRACEBACK_CHARS = 8_000
"""A traceback kept on a job: its end (the exception and its message) matters most, so the head goes."""


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = _longest_first(secrets)

    def redact(self, text: str, extra: Iterable[str] = ()) -> str:
        """``text`` with each secret (and each of ``extra``) replaced by ``[redacted]``."""
        secrets = _longest_first([*self.secrets, *extra]) if extra else self.secrets
        for secret in secrets:
            text = text.replace(secret, MASK)
        return _mask_cut_heads(text, secrets) if CUT in text else text

    def error(self, text: str, extra: Iterable[str] = (), limit: int = ERROR_CHARS) -> str:
        """A one-line error for a record or an answer: redacted, then cut to ``limit`` characters."""
        text = self.redact(text, extra)
        return text if len(text) <= limit else text[: limit - 1] + CUT

    def traceback(self, text: str, limit: int = TRACEBACK_CHARS) -> str:
        """A traceback for a job's failure record: redacted, then its last ``limit`` characters."""
        text = self.redact(text)
        return text if len(text) <= limit else CUT + text[-(limit - 1) :]


def _longest_first(secrets: Iterable[str]) -> list[str]:
    """Usable secrets, longest first so that a secret containing another is masked whole."""
    return sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def _mask_cut_heads(text: str, secrets: list[str]) -> str:
    """Mask the head of a secret that an excerpt cut off: a 300-character excerpt of an error body that
    echoes our token from character 280 keeps its first 20 characters, which whole-secret masking misses."""
    parts = text.split(CUT)
    for index, part in enumerate(parts[:-1]):
        for secret in secrets:
            head = next(
                (k for k in range(len(secret) - 1, MIN_SECRET_CHARS - 1, -1) if part.endswith(secret[:k])), 0
            )
            if head:
                parts[index] = part[:-head] + MASK
                break
    return CUT.join(parts)
