"""Session-wide real servers and per-test isolation (a flushed Redis db, a fresh MongoDB database)."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from config import Settings, load_settings
from tests.harness.mongo_server import FerretDBServer
from tests.harness.process import HarnessError
from tests.harness.redis_server import RedisServer
from tests.tiers import mark_unit_tier

# Settings must come from what each test builds, never from the developer's shell.
for _name in list(os.environ):
    if _name.startswith(("REDIS_", "MONGODB_", "FRAIDAY_", "AI_SERVICE", "SLACK_AI")) and _name not in (
        "FRAIDAY_TEST_MONGODB_URI",
        "FRAIDAY_FERRETDB_BIN",
        "FRAIDAY_CHAOS",
    ):
        del os.environ[_name]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_unit_tier(items)


def _start_or_fail(server: RedisServer | FerretDBServer) -> None:
    try:
        server.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    _start_or_fail(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerretDBServer | None]:
    """The MongoDB-wire server the harness runs (None when FRAIDAY_TEST_MONGODB_URI names another)."""
    if os.environ.get("FRAIDAY_TEST_MONGODB_URI"):
        yield None
        return
    try:
        server = FerretDBServer(tmp_path_factory.mktemp("ferretdb"))
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        _start_or_fail(server)
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def mongo_base_uri(mongo_server: FerretDBServer | None) -> str:
    return mongo_server.base_uri if mongo_server is not None else os.environ["FRAIDAY_TEST_MONGODB_URI"]


def with_database(uri: str, database: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server._answers():
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushdb()
    return redis_server.url


@pytest.fixture
def mongodb_uri(mongo_base_uri: str) -> str:
    return with_database(mongo_base_uri, f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def env(redis_url: str, mongodb_uri: str) -> dict[str, str]:
    """The environment of a fraiday process under test (fast recovery and backoff for short tests)."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "MONGODB_URI": mongodb_uri,
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "FRAIDAY_RECOVERY_SECONDS": "6",
        "FRAIDAY_WORKER_GRACE_SECONDS": "5",
        "FRAIDAY_METRICS_PORT": "0",
    }


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings read the way a process reads them: from its environment (restored after the test)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    return settings_from(env, monkeypatch)


@pytest.fixture
def redis_conn(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)
