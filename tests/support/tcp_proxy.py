"""A loopback TCP proxy whose subclasses decide what passes each way: faults a real server never shows
on demand (a lost answer, a hung write), with the client and the server both real."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit


@dataclass
class TcpProxy:
    upstream: tuple[str, int]
    port: int = 0
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()

    def uri(self, upstream_uri: str) -> str:
        """``upstream_uri`` (a MongoDB or Redis URL) with its host and port replaced by this proxy's."""
        parts = urlsplit(upstream_uri)
        netloc = parts.netloc.rpartition("@")
        auth = netloc[0] + "@" if netloc[0] else ""
        return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{self.port}"))

    def close(self) -> None:
        for sock in [self._listener, *self._sockets]:
            if sock is not None:
                with suppress(OSError):
                    sock.close()

    def relay(self, client: socket.socket, server: socket.socket) -> None:
        """Start the threads that carry one connection's bytes each way."""
        raise NotImplementedError

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            self.relay(client, server)


Proxy = TypeVar("Proxy", bound=TcpProxy)


@contextmanager
def running(proxy: Proxy) -> Iterator[Proxy]:
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
