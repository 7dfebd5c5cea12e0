"""The real app (as gunicorn builds it) against the test Redis and MongoDB, with API keys."""

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from config import Settings
from fraiday_cli.server.app import create_app
from tests.conftest import settings_from

API_KEY = "key-two-rotated-in"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def api_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "FRAIDAY_API_KEYS": f"key-one-old,{API_KEY}", "FRAIDAY_MAX_BODY_BYTES": "4096"}


@pytest.fixture
def api_settings(api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    return settings_from(api_env, monkeypatch)


@pytest.fixture
def api(api_settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(api_settings)
    yield app.test_client()
    app.extensions["fraiday"].services.close()
