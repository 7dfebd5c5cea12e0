"""The webhook POST goes to the address the destination check approved, and TLS still verifies the name.

"Public" here is 127.0.0.2, admitted by the allowlist, so nothing leaves the machine; 127.0.0.1 plays the
internal service a rebinding DNS server points the second resolution at.
"""

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from handlers.services.destinations import DestinationPolicy
from handlers.services.webhooks import Verdict, WebhookSender
from tests.harness.process import free_port
from tests.support.http_stub import Answer, HttpStub, http_stub

APPROVED = "127.0.0.2"


class RebindingResolver:
    """Answers the approved address the first time and 127.0.0.1 every time after."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [APPROVED] if self.calls == 1 else ["127.0.0.1"]


@pytest.fixture
def two_receivers() -> Iterator[tuple[HttpStub, HttpStub]]:
    """The approved receiver and the internal service, on the same port of two loopback addresses."""
    port = free_port()
    with http_stub(APPROVED, port) as approved, http_stub("127.0.0.1", port) as internal:
        approved.script("/hook", Answer(204))
        internal.script("/hook", Answer(204))
        yield approved, internal


def test_a_rebinding_answer_after_the_check_does_not_reach_the_internal_address(
    two_receivers: tuple[HttpStub, HttpStub],
) -> None:
    approved, internal = two_receivers
    port = approved.server.server_port
    resolver = RebindingResolver()
    sender = WebhookSender(DestinationPolicy([f"{APPROVED}/32"], resolver=resolver), timeout_seconds=2)

    attempt = sender.send(f"http://localhost:{port}/hook", "secret", "order.created", "d-1", b"{}")

    assert attempt.verdict is Verdict.DELIVERED, attempt
    assert internal.to("/hook") == []
    [request] = approved.to("/hook")
    assert request.headers["Host"] == f"localhost:{port}"
    assert resolver.calls == 1


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Self-signed certificate and key for each of two names (openssl, as on any Debian machine)."""
    directory = tmp_path_factory.mktemp("tls")
    made = {}
    for name in ("hooks.test", "other.test"):
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
             "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        made[name] = (cert, key)
    return made


def tls_receiver(cert: Path, key: Path, server_names: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(str(name))
    return context


def pinned_sender(trusted: Path, monkeypatch: pytest.MonkeyPatch) -> WebhookSender:
    """A sender trusting only ``trusted`` (requests prefers these variables to the session's setting)."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    sender = WebhookSender(
        DestinationPolicy([f"{APPROVED}/32"], resolver=lambda host, port: [APPROVED]), timeout_seconds=2
    )
    sender.session.verify = str(trusted)
    return sender


def test_tls_to_a_pinned_address_sends_and_verifies_the_host_name(
    certificates: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificates["hooks.test"]
    names: list[str] = []
    with http_stub(APPROVED, tls=tls_receiver(cert, key, names)) as receiver:
        receiver.script("/hook", Answer(204))
        port = receiver.server.server_port

        attempt = pinned_sender(cert, monkeypatch).send(
            f"https://hooks.test:{port}/hook", "s", "order.created", "d", b"{}"
        )

        assert attempt.verdict is Verdict.DELIVERED, attempt
        assert names == ["hooks.test"]
        assert receiver.to("/hook")[0].headers["Host"] == f"hooks.test:{port}"


def test_tls_to_a_pinned_address_refuses_a_certificate_for_another_name(
    certificates: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificates["other.test"]
    with http_stub(APPROVED, tls=tls_receiver(cert, key, [])) as receiver:
        receiver.script("/hook", Answer(204))
        port = receiver.server.server_port
        sender = pinned_sender(cert, monkeypatch)

        attempt = sender.send(f"https://hooks.test:{port}/hook", "s", "order.created", "d", b"{}")

        assert attempt.verdict is Verdict.RETRY
        assert receiver.to("/hook") == []
        with pytest.raises(requests.exceptions.SSLError, match=r"hooks\.test"):
            sender.session.post(f"https://{APPROVED}:{port}/hook", headers={"Host": f"hooks.test:{port}"})


@pytest.mark.parametrize("address", ["::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"])
def test_ipv6_spellings_of_loopback_are_refused_at_delivery(stub: HttpStub, address: str) -> None:
    stub.script("/hook", Answer(204))
    sender = WebhookSender(DestinationPolicy(resolver=lambda host, port: [address]), timeout_seconds=2)

    attempt = sender.send(f"http://hooks.example.com:{stub.server.server_port}/hook", "s", "e", "d", b"{}")

    assert attempt.verdict is Verdict.REFUSED
    assert attempt.error is not None and "127.0.0.1" in attempt.error
    assert stub.to("/hook") == []
