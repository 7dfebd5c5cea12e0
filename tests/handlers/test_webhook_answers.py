"""What a webhook receiver answers is read only as far as it is used: a receiver is chosen by an API caller
and may answer a delivery with gigabytes, which read whole would take that much memory in the worker."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from handlers.services.destinations import DestinationPolicy
from handlers.services.webhooks import Verdict, WebhookSender

CHUNK = b"<p>" + b"x" * (1024 * 1024 - 3)
CHUNKS = 64
"""64 MiB offered: far more than any socket buffer, so what was sent tells what was read."""


@contextmanager
def flooding_receiver(status: bytes) -> Iterator[tuple[int, list[int]]]:
    """A receiver answering ``status`` with a chunked body of ``CHUNKS`` MiB; the list gets the bytes of
    body it managed to send before the client closed the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    sent: list[int] = []

    def serve() -> None:
        connection, _ = listener.accept()
        total = 0
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\n")
            connection.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
            try:
                for _ in range(CHUNKS):
                    connection.sendall(b"%x\r\n%b\r\n" % (len(CHUNK), CHUNK))
                    total += len(CHUNK)
                connection.sendall(b"0\r\n\r\n")
            except OSError:  # the client closed the connection: it read no further
                pass
        sent.append(total)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], sent
    finally:
        thread.join(30)
        listener.close()


def test_a_huge_error_body_is_read_only_as_far_as_its_excerpt_needs() -> None:
    sender = WebhookSender(DestinationPolicy(["127.0.0.1"]), timeout_seconds=10)
    with flooding_receiver(b"500 Internal Server Error") as (port, sent):
        attempt = sender.send(f"http://127.0.0.1:{port}/hook", "secret-1234", "order.created", "d-1", b"{}")
    assert attempt.verdict is Verdict.RETRY
    assert attempt.error is not None and attempt.error.startswith("answered 500: <p>xxx")
    assert len(attempt.error) < 400
    # Read whole, all 64 MiB go out; cut at 64 KiB, the rest stops at the socket buffers.
    assert sent and sent[0] < CHUNKS * len(CHUNK) // 4, f"{sent[0]} bytes of body were sent"


def test_a_huge_body_with_a_2xx_is_not_read_either() -> None:
    sender = WebhookSender(DestinationPolicy(["127.0.0.1"]), timeout_seconds=10)
    with flooding_receiver(b"200 OK") as (port, sent):
        attempt = sender.send(f"http://127.0.0.1:{port}/hook", "secret-1234", "order.created", "d-1", b"{}")
    assert attempt.verdict is Verdict.DELIVERED
    assert sent and sent[0] < CHUNKS * len(CHUNK) // 4, f"{sent[0]} bytes of body were sent"
