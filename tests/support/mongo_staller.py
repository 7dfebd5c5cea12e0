"""A TCP proxy in front of the MongoDB-wire server that can stop answering writes: a hung database.

Stalled, it swallows every client message that carries an ``insert`` command and keeps the connection
open, while the handshakes and the driver's monitoring pass as before: the server stays selectable and
the insert waits on its socket for an answer that never comes, as behind a lock held elsewhere or a
network path that drops packets without a reset.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit


@dataclass
class MongoStaller:
    upstream: tuple[str, int]
    port: int = 0
    swallowed: int = 0
    _stalled: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)

    def uri(self, upstream_uri: str) -> str:
        parts = urlsplit(upstream_uri)
        netloc = parts.netloc.rpartition("@")
        auth = netloc[0] + "@" if netloc[0] else ""
        return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{self.port}"))

    def stall_inserts(self) -> None:
        self._stalled.set()

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        for sock in [self._listener, *self._sockets]:
            if sock is not None:
                with suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                if from_client and self._stalled.is_set() and b"insert" in data:
                    self.swallowed += 1
                    continue
                target.sendall(data)


@contextmanager
def mongo_staller(upstream_uri: str) -> Iterator[MongoStaller]:
    parts = urlsplit(upstream_uri)
    staller = MongoStaller((parts.hostname or "127.0.0.1", parts.port or 27017))
    staller.start()
    try:
        yield staller
    finally:
        staller.close()
