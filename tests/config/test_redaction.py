"""One redactor masks every configured secret in error texts and in every part of a log line."""

import logging
from collections.abc import Iterator

import pytest

from config.logs import configure_logging
from config.redaction import MASK, Redactor
from config.settings import Settings

SECRET = "ai-token-1234"


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    root.handlers[:] = saved
    root.setLevel(level)


def test_every_configured_secret_is_masked_and_errors_are_cut_short() -> None:
    settings = Settings(
        slack_ai_token="ai-token-1234",
        api_keys="key-one-5678,key-two-9012",
        redis_url_override="redis://:r3d%21s%2Fpw@127.0.0.1:6379/0",
        mongodb_uri="mongodb://app:m0ng%40pw@127.0.0.1:27017/fraiday",
    )
    redactor = Redactor(settings.secret_values())
    text = "ai-token-1234 key-one-5678 key-two-9012 r3d!s/pw r3d%21s%2Fpw m0ng@pw m0ng%40pw hook-s3cret"

    assert redactor.redact(text, ["hook-s3cret"]) == " ".join([MASK] * 8)
    assert len(redactor.error("x" * 10_000)) == 500
    assert redactor.traceback("Traceback\n" + "x" * 10_000 + "\nError: ai-token-1234").endswith(
        f"Error: {MASK}"
    )


def test_the_head_of_a_secret_an_excerpt_cut_off_is_masked_too() -> None:
    redactor = Redactor(["tok-0123456789abcdef"])
    assert redactor.redact("you sent Bearer tok-01234…") == f"you sent Bearer {MASK}…"
    assert redactor.error("a: Bearer tok-0123456789…\nb: tok-…") == f"a: Bearer {MASK}…\nb: {MASK}…"
    assert redactor.redact("short tok…") == "short tok…"  # three characters say nothing


def test_log_lines_mask_secrets_in_message_fields_and_traceback(
    root_handlers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json", [SECRET])
    log = logging.getLogger("fraiday.test")
    try:
        raise RuntimeError(f"upstream said Bearer {SECRET}")
    except RuntimeError:
        log.exception("failed: %s", SECRET, extra={"error": f"body: {SECRET}"})

    line = capsys.readouterr().err
    assert SECRET not in line
    assert line.count(MASK) == 3, line
