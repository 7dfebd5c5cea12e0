"""Handlers run for real against the MongoDB-wire server, with loopback HTTP stubs for the outside."""

from collections.abc import Iterator

import pytest

from config import Settings
from handlers.registry import TaskContext
from handlers.services import Services
from tests.conftest import settings_from
from tests.support.http_stub import HttpStub, http_stub

AI_TOKEN = "ai-token-s3cret-value"


@pytest.fixture
def stub() -> Iterator[HttpStub]:
    with http_stub() as server:
        yield server


@pytest.fixture
def handler_env(env: dict[str, str], stub: HttpStub) -> dict[str, str]:
    return {
        **env,
        "AI_SERVICE_URL": stub.url,
        "SLACK_AI_TOKEN": AI_TOKEN,
        "FRAIDAY_WEBHOOK_ALLOWLIST": "127.0.0.1",
        "FRAIDAY_WEBHOOK_TIMEOUT_SECONDS": "1",
        "FRAIDAY_AI_TIMEOUT_SECONDS": "2",
    }


@pytest.fixture
def handler_settings(handler_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    return settings_from(handler_env, monkeypatch)


@pytest.fixture
def services(handler_settings: Settings) -> Iterator[Services]:
    built = Services(handler_settings, appname="fraiday-test")
    yield built
    built.close()


def attempt(number: int, max_attempts: int = 5, task_id: str = "task-1", task_type: str = "x") -> TaskContext:
    return TaskContext(
        task_id=task_id, task_type=task_type, queue="q", attempt=number, max_attempts=max_attempts
    )
