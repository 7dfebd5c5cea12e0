"""A TCP proxy in front of Redis that can lose the answer to one pop: the dequeue window, on demand.

Armed, it forwards the next BLPOP/BLMOVE to Redis, lets Redis pop the job id, then closes the client's
connection instead of passing the answer on: exactly a connection lost between popping a job id and
reading the job. Redis has moved the id out of its queue; the worker never learns which job it was.
"""

import socket
import threading
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field

from tests.support.tcp_proxy import TcpProxy, running

POP_COMMANDS = (b"BLPOP", b"BLMOVE")
NIL_REPLIES = (b"*-1", b"$-1", b"_")


@dataclass
class PopCutter(TcpProxy):
    cuts: int = 0
    _armed: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut_next_pop(self) -> None:
        self._armed.set()

    def relay(self, client: socket.socket, server: socket.socket) -> None:
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


def pop_cutter(upstream_port: int) -> AbstractContextManager[PopCutter]:
    return running(PopCutter(("127.0.0.1", upstream_port)))
