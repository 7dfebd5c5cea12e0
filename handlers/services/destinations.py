"""Where webhooks may go: public http(s) addresses, plus what ``FRAIDAY_WEBHOOK_ALLOWLIST`` permits.

A webhook URL is chosen by a client, and the worker that calls it sits inside our network: without this
check a subscription to ``http://169.254.169.254/`` would read the cloud metadata service, and one to
``http://10.0.0.5:6379/`` would talk to internal services (SSRF). Every address a host name resolves to
must be public; the API checks when a subscription is created and the worker again before each delivery,
because DNS answers change.
"""

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class UnsafeDestination(ValueError):
    """The URL is not http(s), or reaches an address webhooks may not reach."""


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeDestination(f"host {host!r} does not resolve: {exc}") from None
    return sorted({str(info[4][0]) for info in infos})


def is_internal(address: IPAddress) -> bool:
    """Anything but a public unicast address: loopback, private, link-local (the metadata service), ..."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


class DestinationPolicy:
    def __init__(self, allowlist: Sequence[str] = (), resolver: Resolver = resolve) -> None:
        self.hosts = {entry.lower() for entry in allowlist if "/" not in entry}
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in allowlist if "/" in entry]
        self.resolver = resolver

    def check(self, url: str) -> None:
        """Raise :class:`UnsafeDestination` unless ``url`` may receive webhooks."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeDestination(f"not a valid URL: {exc}") from None
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise UnsafeDestination("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise UnsafeDestination("must not carry credentials")
        if host in self.hosts:
            return
        if host in METADATA_HOSTS:
            raise UnsafeDestination(f"host {host!r} is a cloud metadata service")
        for text in self.resolver(host, port):
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if is_internal(address) and not any(address in network for network in self.networks):
                raise UnsafeDestination(
                    f"host {host!r} resolves to {address}, a loopback, private, link-local or reserved "
                    "address (allow it with FRAIDAY_WEBHOOK_ALLOWLIST)"
                )
