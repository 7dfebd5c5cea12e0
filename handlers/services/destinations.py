"""Where webhooks may go: public http(s) addresses, plus what ``FRAIDAY_WEBHOOK_ALLOWLIST`` permits.

A webhook URL is chosen by a client, and the worker that calls it sits inside our network: without this
check a subscription to ``http://169.254.169.254/`` would read the cloud metadata service, and one to
``http://10.0.0.5:6379/`` would talk to internal services (SSRF). Every address a host name resolves to
must be public; the API checks when a subscription is created and the worker again before each delivery.

The check returns the addresses it approved, and the sender connects to one of those (see
:mod:`handlers.services.pinning`) instead of resolving the name again: a DNS server that answers a public
address to the check and 127.0.0.1 to the connection (DNS rebinding) gets nowhere. An IPv6 address that
embeds an IPv4 one (IPv4-mapped, -compatible or -translated, NAT64, 6to4) is judged by the IPv4 address it
reaches; Teredo, whose tunnel end is not ours to judge, and local-use NAT64 are refused.
"""

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})

IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
"""SIIT's IPv4-translated addresses (RFC 2765): a translator on the path reaches the IPv4 address."""
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
"""The local-use NAT64 prefix (RFC 8215): where the IPv4 address sits depends on the operator's prefix
length, and it is never globally reachable, so it is refused whole (Python 3.11 counts it global)."""
TEREDO = ipaddress.IPv6Network("2001::/32")


class UnsafeDestination(ValueError):
    """The URL is not http(s), or reaches an address webhooks may not reach."""


@dataclass(frozen=True)
class Destination:
    """A URL that passed the check, with the addresses approved for it (in the resolver's order)."""

    url: str
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host``, in getaddrinfo's order of preference, each once."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeDestination(f"host {host!r} does not resolve: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 spelling reaches: ``::ffff:a.b.c.d``, ``::a.b.c.d``, ``::ffff:0:a.b.c.d``,
    NAT64, 6to4."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in IPV4_COMPATIBLE or address in IPV4_TRANSLATED or address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_internal(address: IPAddress) -> bool:
    """Anything but a public unicast address: loopback, private, link-local (the metadata service), ...,
    or an IPv6 spelling of one, a Teredo tunnel or a local NAT64."""
    if isinstance(address, ipaddress.IPv6Address) and (address in TEREDO or address in LOCAL_NAT64):
        return True
    reached = embedded_ipv4(address) or address
    return not reached.is_global or reached.is_multicast


class DestinationPolicy:
    def __init__(self, allowlist: Sequence[str] = (), resolver: Resolver = resolve) -> None:
        self.hosts = {entry.lower() for entry in allowlist if "/" not in entry}
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in allowlist if "/" in entry]
        self.resolver = resolver

    def check(self, url: str) -> Destination:
        """The destination with its approved addresses; :class:`UnsafeDestination` if it is refused."""
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
        if host in METADATA_HOSTS and host not in self.hosts:
            raise UnsafeDestination(f"host {host!r} is a cloud metadata service")
        addresses = self.resolver(host, port)
        if not addresses:
            raise UnsafeDestination(f"host {host!r} does not resolve")
        if host not in self.hosts:
            for text in addresses:
                self._check_address(host, text)
        return Destination(url, tuple(addresses))

    def _check_address(self, host: str, text: str) -> None:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reached = embedded_ipv4(address) or address
        allowed = any(candidate in network for candidate in (address, reached) for network in self.networks)
        if is_internal(address) and not allowed:
            via = f" (reaching {reached})" if reached != address else ""
            raise UnsafeDestination(
                f"host {host!r} resolves to {address}{via}, a loopback, private, link-local or reserved "
                "address (allow it with FRAIDAY_WEBHOOK_ALLOWLIST)"
            )
