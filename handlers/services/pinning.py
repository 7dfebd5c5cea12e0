"""Connect to the address the destination check approved, while HTTP and TLS still speak to the name.

Resolving a webhook's host name once to check it and again to connect lets a DNS server answer a public
address to the check and 127.0.0.1 to the connection (DNS rebinding). So the sender never lets the name be
resolved again: it puts the approved address in the URL and the URL's own authority in the ``Host``
header, and :class:`PinnedAdapter` hands TLS that name as the server name, so SNI and certificate
verification are still for the name the client registered, not for the address.

``build_connection_pool_key_attributes`` is the hook requests (>= 2.32.2) documents for subclasses that
change how a connection is chosen; tests/handlers/test_pinning.py fails loudly if it stops being called.
"""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest
from requests.adapters import HTTPAdapter


def pin(url: str, address: str) -> tuple[str, str]:
    """``url`` with its host replaced by ``address``, and the ``Host`` header naming the original."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc)), parts.netloc


def server_name(host_header: str) -> str:
    """The name in a ``Host`` header value, without port or IPv6 brackets."""
    return urlsplit(f"//{host_header}").hostname or host_header


class PinnedAdapter(HTTPAdapter):
    """Verifies TLS against the name in the request's ``Host`` header instead of the URL's address."""

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[Any, Any]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_header = request.headers.get("Host")
        if host_params["scheme"] != "https" or not host_header:
            return host_params, pool_kwargs
        return host_params, {**pool_kwargs, "server_hostname": server_name(host_header)}
