"""Webhook signatures as a receiver checks them, and the destination policy's allow-list."""

import pytest

from handlers.services.destinations import DestinationPolicy, UnsafeDestination
from handlers.services.signing import InvalidSignature, sign, verify

BODY = b'{"id":"e1","type":"order.created"}'


def test_a_fresh_signature_verifies_and_returns_its_timestamp() -> None:
    header = sign("whsec_abc", BODY, timestamp=1_800_000_000)
    assert header.startswith("t=1800000000,v1=")
    assert verify("whsec_abc", BODY, header, now=1_800_000_100) == 1_800_000_000


@pytest.mark.parametrize(
    ("secret", "body", "now", "message"),
    [
        ("whsec_abc", BODY, 1_800_000_301, "outside the tolerance"),  # a replay, five minutes later
        ("whsec_abc", BODY + b" ", 1_800_000_000, "no matching v1"),
        ("whsec_other", BODY, 1_800_000_000, "no matching v1"),
    ],
)
def test_receivers_reject_old_tampered_or_foreign_signatures(
    secret: str, body: bytes, now: int, message: str
) -> None:
    header = sign("whsec_abc", BODY, timestamp=1_800_000_000)
    with pytest.raises(InvalidSignature, match=message):
        verify(secret, body, header, now=now)


def test_a_header_without_timestamp_is_rejected() -> None:
    with pytest.raises(InvalidSignature, match="no timestamp"):
        verify("s", BODY, "v1=abc")


def fixed(*addresses: str) -> DestinationPolicy:
    return DestinationPolicy(resolver=lambda host, port: list(addresses))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "0.0.0.0",
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::7f00:1",  # NAT64
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata service
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT)
        "64:ff9b:1::7f00:1",  # local-use NAT64
        "64:ff9b:1:ffff::5db8:d70e",
        "2002:7f00:1::",  # 6to4
        "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    with pytest.raises(UnsafeDestination):
        fixed(address).check("https://hooks.example.com/x")


def test_a_name_resolving_to_any_internal_address_is_refused() -> None:
    with pytest.raises(UnsafeDestination, match=r"10\.0\.0\.8"):
        fixed("93.184.215.14", "10.0.0.8").check("https://hooks.example.com/x")


def test_public_addresses_pass_and_the_allowlist_admits_hosts_and_ranges() -> None:
    fixed("93.184.215.14").check("https://hooks.example.com/x")
    for spelling in ("::ffff:93.184.215.14", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "2606:2800::1"):
        assert fixed(spelling).check("https://hooks.example.com/x").addresses == (spelling,)
    DestinationPolicy(["hooks.internal"], resolver=lambda h, p: ["10.0.0.8"]).check("http://hooks.internal/x")
    DestinationPolicy(["10.0.0.0/8"], resolver=lambda h, p: ["10.1.2.3"]).check("http://svc/x")
    with pytest.raises(UnsafeDestination):
        DestinationPolicy(["10.0.0.0/8"], resolver=lambda h, p: ["192.168.0.1"]).check("http://svc/x")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "https://user:pw@example.com/", "http:///path", "not a url"]
)
def test_non_http_urls_and_credentials_are_refused(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        fixed("93.184.215.14").check(url)
