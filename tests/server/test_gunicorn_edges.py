"""The real ``fraiday server`` (gunicorn, default settings) at the HTTP edges Flask never sees: requests
gunicorn refuses itself, chunked bodies over the limit, and clients that are slow or send nothing."""

import contextlib
import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.harness.process import free_port
from tests.processes import fraiday, wait_for
from tests.server.conftest import API_KEY

PING_DEADLINE_SECONDS = 1.0
KEEP_ALIVE_SECONDS = 5.0
"""The promise (README "Running in production", docs/security.md): a connection that has not sent a whole
request head within 5 s, or stays idle that long, is closed. Gevent's worker arms it when it accepts."""
CLOSE_MARGIN_SECONDS = 1.0
"""How much later than the bound a close may come on a loaded 2-CPU machine (accepting late, waking late,
this test's watcher reading late). Measured with two busy loops beside it: at most 0.15 s late."""
CLOSE_EARLY_SECONDS = 0.25
"""How much earlier: gevent arms the timer on its loop's cached clock, a few milliseconds stale."""
WATCH_SECONDS = KEEP_ALIVE_SECONDS + CLOSE_MARGIN_SECONDS + 1


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


@pytest.mark.parametrize(
    "path", ["/api//v1/tasks/x", "//api/v1/tasks/x", "/api/v1//tasks/x", "/api/v1/tasks//x"]
)
def test_a_path_with_doubled_slashes_is_a_json_404_not_an_html_redirect(server_port: int, path: str) -> None:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\nConnection: close\r\n\r\n"
    )
    status, headers, body = exchange(server_port, request.encode())
    assert (status, headers["content-type"]) == (404, "application/json"), body
    assert json.loads(body)["error"] == "not_found"


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


def connect(port: int, count: int) -> tuple[list[socket.socket], list[float]]:
    """``count`` connections to the server, and the monotonic time each was established."""
    sockets: list[socket.socket] = []
    connected_at: list[float] = []
    for _ in range(count):
        sockets.append(socket.create_connection(("127.0.0.1", port)))
        connected_at.append(time.monotonic())
    return sockets, connected_at


def seconds_to_close(sockets: list[socket.socket], connected_at: list[float], until: float) -> list[float]:
    """Seconds from each socket's connect to the server closing it (infinite: still open at ``until``).

    Watches all sockets at once, so each close is timed when it happens. A close by the server reads as
    end-of-file or as a reset: gevent's worker closes on its keep-alive timer without reading what arrived
    meanwhile, and Linux answers a close over unread bytes with a reset. A slow client's tenth line lands
    about 5 s after its connect, as the timer fires; a worker busy across both (50 ms is enough) wakes to
    the timer first and leaves the line unread."""
    closed = [float("inf")] * len(sockets)
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(sockets):
            selector.register(sock, selectors.EVENT_READ, index)
        while selector.get_map() and (left := until - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                with contextlib.suppress(ConnectionResetError):
                    if key.fileobj.recv(4096):
                        continue
                closed[key.data] = time.monotonic() - connected_at[key.data]
                selector.unregister(key.fileobj)
    return closed


def assert_ping_answers_and_each_closes_in_time(
    port: int, sockets: list[socket.socket], connected_at: list[float]
) -> None:
    """``/ping`` answers within its deadline for 3 s, and the server closes each of ``sockets`` at the
    keep-alive bound of its own connect."""
    with ThreadPoolExecutor(1) as pool:
        closes = pool.submit(seconds_to_close, sockets, connected_at, connected_at[-1] + WATCH_SECONDS)
        latencies = ping_while(port, 3)
        assert max(latencies) < PING_DEADLINE_SECONDS, latencies
        closed = closes.result()
    early, late = KEEP_ALIVE_SECONDS - CLOSE_EARLY_SECONDS, KEEP_ALIVE_SECONDS + CLOSE_MARGIN_SECONDS
    outside = [seconds for seconds in closed if not early <= seconds <= late]
    assert not outside, (
        f"{len(outside)} of {len(closed)} connections not closed {early}-{late} s after connecting: "
        f"{sorted(round(seconds, 2) for seconds in closed)}"
    )


def test_slow_and_idle_clients_neither_stop_ping_nor_stay_connected(server_port: int) -> None:
    """32 clients sending their headers a line every half second, then 200 that send nothing: ``/ping``
    answers meanwhile, and the server closes each connection at the keep-alive bound of its connect."""
    slow, connected_at = connect(server_port, 32)
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
        assert_ping_answers_and_each_closes_in_time(server_port, slow, connected_at)
    finally:
        stop.set()
        dripper.join()
        for sock in slow:
            sock.close()

    idle, connected_at = connect(server_port, 200)
    try:
        assert_ping_answers_and_each_closes_in_time(server_port, idle, connected_at)
    finally:
        for sock in idle:
            sock.close()
