"""A TCP proxy in front of the MongoDB-wire server that can stop answering writes: a hung database.

Stalled, it swallows every client message that carries an ``insert`` command and keeps the connection
open, while the handshakes and the driver's monitoring pass as before: the server stays selectable and
the insert waits on its socket for an answer that never comes, as behind a lock held elsewhere or a
network path that drops packets without a reset.
"""

import socket
import threading
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support.tcp_proxy import TcpProxy, running


@dataclass
class MongoStaller(TcpProxy):
    swallowed: int = 0
    _stalled: threading.Event = field(default_factory=threading.Event)

    def stall_inserts(self) -> None:
        self._stalled.set()

    def relay(self, client: socket.socket, server: socket.socket) -> None:
        threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
        threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                if from_client and self._stalled.is_set() and b"insert" in data:
                    self.swallowed += 1
                    continue
                target.sendall(data)


def mongo_staller(upstream_uri: str) -> AbstractContextManager[MongoStaller]:
    parts = urlsplit(upstream_uri)
    return running(MongoStaller((parts.hostname or "127.0.0.1", parts.port or 27017)))
