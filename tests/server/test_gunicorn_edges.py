"""The real ``fraiday server`` (gunicorn, default settings) at the HTTP edges Flask never sees: requests
gunicorn refuses itself, chunked bodies over the limit, and clients that are slow or send nothing."""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.harness.process import free_port
from tests.processes import fraiday, wait_for
from tests.server.conftest import API_KEY

PING_DEADLINE_SECONDS = 1.0


@pytest.fixture
def server_port(api_env: dict[str, str], tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with fraiday(["server", "--host", "127.0.0.1", "--port", str(port)], api_env, tmp_path / "server.log"):
        wait_for(lambda: ping(port), 20, what="server up")
        yield port


def ping(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/ping", timeout=PING_DEADLINE_SECONDS).status_code == 200
    except requests.RequestException:
        return False


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (
            b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
            431,
            "request_header_fields_too_large",
        ),
        (
            b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            + f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n\r\nzz\r\n".encode(),
            400,
            "bad_request",
        ),
    ],
    ids=["request line over 4094 bytes", "no request line", "200 headers", "bad chunk size"],
)
def test_requests_gunicorn_refuses_itself_are_answered_in_json(
    server_port: int, request_bytes: bytes, status: int, error: str
) -> None:
    got, headers, body = exchange(server_port, request_bytes)
    assert (got, headers["content-type"]) == (status, "application/json"), body
    answer = json.loads(body)
    assert answer["error"] == error and answer["message"]


def test_a_chunked_body_over_the_limit_is_a_413(server_port: int) -> None:
    body = json.dumps({"client_id": "acme", "metadata": {"x": "y" * 6000}}).encode()  # the limit is 4096
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000]) for i in range(0, len(body), 1000)
    )
    status, headers, answer = exchange(
        server_port,
        b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + f"Authorization: Bearer {API_KEY}\r\n".encode()
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n",
    )
    assert (status, headers["content-type"]) == (413, "application/json")
    assert json.loads(answer)["error"] == "request_entity_too_large"


def ping_while(port: int, seconds: float) -> list[float]:
    """Ping every 0.2 s for ``seconds``; the latency of each (a failed ping counts as infinite)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        latencies.append(time.monotonic() - started if ping(port) else float("inf"))
        time.sleep(0.2)
    return latencies


def wait_closed_by_server(sockets: list[socket.socket], timeout: float) -> int:
    """How many of ``sockets`` the server closes within ``timeout`` seconds (each read until EOF)."""
    closed = 0
    deadline = time.monotonic() + timeout
    for sock in sockets:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            while sock.recv(4096):
                pass
            closed += 1
        except OSError:
            pass
    return closed


def test_slow_and_idle_clients_neither_stop_ping_nor_stay_connected(server_port: int) -> None:
    """32 clients sending their headers a line every half second, then 200 that send nothing."""
    slow = [socket.create_connection(("127.0.0.1", server_port)) for _ in range(32)]
    stop = threading.Event()

    def drip() -> None:
        for sock in slow:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        while not stop.wait(0.5):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        latencies = ping_while(server_port, 3)
        assert max(latencies) < PING_DEADLINE_SECONDS, latencies
        assert wait_closed_by_server(slow, timeout=10) == 32  # keep-alive (5 s) bounds a request head
    finally:
        stop.set()
        dripper.join()
        for sock in slow:
            sock.close()

    idle = [socket.create_connection(("127.0.0.1", server_port)) for _ in range(200)]
    try:
        latencies = ping_while(server_port, 3)
        assert max(latencies) < PING_DEADLINE_SECONDS, latencies
        assert wait_closed_by_server(idle, timeout=10) == 200
    finally:
        for sock in idle:
            sock.close()
