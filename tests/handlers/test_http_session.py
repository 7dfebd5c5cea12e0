"""The AI client's and webhook sender's HTTP session and the environment: proxies are honoured as requests
honours them, and without any the environment is read once, when the session is built."""

import os
from pathlib import Path

import pytest

from handlers.services.ai_client import AIClient
from handlers.services.http import pooled_session
from tests.harness.process import free_port
from tests.support.http_stub import Answer, http_stub


@pytest.fixture(autouse=True)
def no_proxy_or_netrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def ai_client(base_url: str) -> AIClient:
    return AIClient(base_url, None, chat_path="/v1/chat", sync_path="/v1/sync", read_timeout_seconds=2)


def test_the_ai_client_goes_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_stub() as proxy:
        proxy.script("http://ai.invalid/v1/chat", Answer(200, {"reply": "via the proxy"}))
        monkeypatch.setenv("HTTP_PROXY", proxy.url)

        assert ai_client("http://ai.invalid").reply("s", "m", "hi", []) == "via the proxy"


def test_no_proxy_sends_the_ai_client_straight_to_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_stub() as service:
        service.script("/v1/chat", Answer(200, {"reply": "direct"}))
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")

        assert ai_client(service.url).reply("s", "m", "hi", []) == "direct"


def test_without_a_proxy_the_environment_is_read_when_the_session_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert pooled_session().verify == str(bundle)
    with http_stub() as service, http_stub() as proxy:
        service.script("/v1/chat", Answer(200, {"reply": "direct"}))
        client = ai_client(service.url)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)  # too late: the session no longer looks

        assert client.reply("s", "m", "hi", []) == "direct"
        assert proxy.requests == []
