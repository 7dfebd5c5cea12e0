"""Fault injection at two sizes: short in the default run, full with ``nox -s chaos`` (FRAIDAY_CHAOS=full)."""

import os
from collections.abc import Iterator

import pytest

from handlers.services import Services
from tests.conftest import settings_from
from tests.support.http_stub import HttpStub, http_stub

FULL = os.environ.get("FRAIDAY_CHAOS") == "full"


def size(short: float, full: float) -> float:
    return full if FULL else short


@pytest.fixture
def receiver() -> Iterator[HttpStub]:
    with http_stub() as stub:
        yield stub


@pytest.fixture
def chaos_env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "FRAIDAY_WEBHOOK_ALLOWLIST": "127.0.0.1",
        "FRAIDAY_WEBHOOK_TIMEOUT_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def chaos_services(chaos_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    services = Services(settings_from(chaos_env, monkeypatch), appname="fraiday-chaos")
    yield services
    services.close()
