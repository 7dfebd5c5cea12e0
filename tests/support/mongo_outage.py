"""A TCP proxy in front of the MongoDB-wire server that can take it down and bring it back: an outage.

Down, it closes every connection it carries and every new one at once, so commands, handshakes and the
driver's monitoring all fail as against a server that went away; up again, new connections pass. It can
be armed to go down by itself when a client message names a collection, to time an outage to one read.
"""

import socket
import threading
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support.tcp_proxy import TcpProxy, running


@dataclass
class MongoOutage(TcpProxy):
    _down: threading.Event = field(default_factory=threading.Event)
    _trigger: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def down_at(self, collection: str) -> None:
        """Go down when a client message names ``collection`` (that message is not passed on)."""
        self._trigger = collection.encode()

    @property
    def is_down(self) -> bool:
        return self._down.is_set()

    def down(self) -> None:
        with self._lock:
            self._down.set()
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()

    def up(self) -> None:
        self._trigger = None
        self._down.clear()

    def relay(self, client: socket.socket, server: socket.socket) -> None:
        if self._down.is_set():
            for sock in (client, server):
                with suppress(OSError):
                    sock.close()
            return
        threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
        threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                if from_client and self._trigger is not None and self._trigger in data:
                    self.down()
                    return
                target.sendall(data)


def mongo_outage(upstream_uri: str) -> AbstractContextManager[MongoOutage]:
    parts = urlsplit(upstream_uri)
    return running(MongoOutage((parts.hostname or "127.0.0.1", parts.port or 27017)))
