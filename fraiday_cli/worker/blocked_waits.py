"""Ending the network waits of a threaded slot's jobs when the grace period is over.

The shutdown interrupt reaches a job thread as an asynchronous exception (see
:mod:`fraiday_cli.worker.thread_timeouts`), which CPython delivers only once the thread runs Python code
again; a job waiting on the AI service sits in one socket read that may last a minute. Past the grace
period the slot is about to go, so it shuts down every connected socket of the process except those to
its Redis (which the interrupted jobs need to put themselves back): each such read returns at once, the
pending interrupt lands, and the job is requeued without using an attempt, instead of being killed with
the slot five seconds later and recovered with one.
"""

import gc
import logging
import socket
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

log = logging.getLogger("fraiday.worker")


def redis_peers(connection_kwargs: dict[str, Any]) -> set[Any]:
    """The addresses ``getpeername()`` reports for a connection to this Redis."""
    if connection_kwargs.get("path"):
        return {connection_kwargs["path"]}
    host, port = connection_kwargs.get("host", "localhost"), int(connection_kwargs.get("port", 6379))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {info[4][:2] for info in infos}


def _connected(objects: Iterable[object]) -> Iterable[tuple[socket.socket, Any]]:
    for candidate in objects:
        if not isinstance(candidate, socket.socket) or candidate.fileno() < 0:
            continue
        try:
            peer = candidate.getpeername()
        except OSError:
            continue  # listening, or not connected
        yield candidate, peer[:2] if isinstance(peer, tuple) else peer


def end_network_waits(spared_peers: set[Any]) -> int:
    """Shut down every connected socket whose peer is not spared; returns how many."""
    ended = 0
    for sock, peer in _connected(gc.get_objects()):
        if peer in spared_peers:
            continue
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
            ended += 1
    if ended:
        log.warning("grace period over: shut down %d connection(s) interrupted jobs may wait on", ended)
    return ended
