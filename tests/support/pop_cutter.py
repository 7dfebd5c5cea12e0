"""A TCP proxy in front of Redis that can lose the answer to one pop: the dequeue window, on demand.

Armed, it forwards the next BLPOP/BLMOVE to Redis, lets Redis pop the job id, then closes the client's
connection instead of passing the answer on: exactly a connection lost between popping a job id and
reading the job. Redis has moved the id out of its queue; the worker never learns which job it was.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

POP_COMMANDS = (b"BLPOP", b"BLMOVE")
NIL_REPLIES = (b"*-1", b"$-1", b"_")


@dataclass
class PopCutter:
    upstream_port: int
    port: int = 0
    cuts: int = 0
    _armed: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut_next_pop(self) -> None:
        self._armed.set()

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
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, server]
            popping = threading.Event()
            threading.Thread(target=self._to_redis, args=(client, server, popping), daemon=True).start()
            threading.Thread(target=self._to_client, args=(server, client, popping), daemon=True).start()

    def _to_redis(self, client: socket.socket, server: socket.socket, popping: threading.Event) -> None:
        while data := _recv(client):
            if any(command in data.upper() for command in POP_COMMANDS):
                popping.set()
            server.sendall(data)
        _close(client, server)

    def _to_client(self, server: socket.socket, client: socket.socket, popping: threading.Event) -> None:
        while data := _recv(server):
            if popping.is_set():
                popping.clear()
                if self._armed.is_set() and not data.startswith(NIL_REPLIES) and not data.startswith(b"-"):
                    self._armed.clear()
                    self.cuts += 1
                    break  # Redis popped the id; the worker never hears of it
            with suppress(OSError):
                client.sendall(data)
        _close(client, server)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            sock.close()


@contextmanager
def pop_cutter(upstream_port: int) -> Iterator[PopCutter]:
    cutter = PopCutter(upstream_port)
    cutter.start()
    try:
        yield cutter
    finally:
        cutter.close()
