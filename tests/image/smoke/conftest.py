"""Fixtures for the smoke tests of a built image. Collected only when ``nox -s image`` names the image
(IMAGE_UNDER_TEST) and the daemon it is in; the default test run has no Docker."""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import with_database
from tests.harness.redis_server import RedisServer
from tests.image.docker_cli import DockerCli

IMAGE = os.environ.get("IMAGE_UNDER_TEST")
collect_ignore_glob = [] if IMAGE else ["test_*.py"]

API_KEY = "smoke-test-key"


@pytest.fixture(scope="session")
def image() -> str:
    assert IMAGE is not None
    return IMAGE


@pytest.fixture(scope="session")
def docker() -> DockerCli:
    return DockerCli(os.environ["IMAGE_DOCKER"], os.environ["DOCKER_HOST"])


@pytest.fixture(scope="session")
def measurements() -> Iterator[dict[str, str]]:
    """Start-up times and memory the session prints (and docs/performance.md records)."""
    found: dict[str, str] = {}
    yield found
    target = os.environ.get("IMAGE_MEASUREMENTS")
    if target:
        Path(target).write_text(json.dumps(found, indent=2))


@pytest.fixture(scope="module")
def runtime_env(redis_server: RedisServer, mongo_base_uri: str) -> dict[str, str]:
    """What a deployment sets: where Redis and MongoDB are, the API keys; one database per module."""
    return {
        "REDIS_URL": redis_server.url,
        "MONGODB_URI": with_database(mongo_base_uri, f"smoke_{os.urandom(4).hex()}"),
        "FRAIDAY_API_KEYS": API_KEY,
    }
