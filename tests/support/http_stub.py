"""A real HTTP server on loopback playing the AI service or a webhook receiver, with scripted answers."""

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    delay: float = 0.0
    echo: str | None = None
    """A request header whose line is appended to the body (a careless service echoing credentials)."""
    set_cookie: str | None = None
    """A ``Set-Cookie`` header the answer carries (a receiver starting a session)."""

    def encoded(self, headers: dict[str, str] | None = None) -> bytes:
        if isinstance(self.body, dict | list):
            body = json.dumps(self.body).encode()
        else:
            body = self.body.encode() if isinstance(self.body, str) else self.body
        if self.echo is not None and headers is not None:
            body += f" {self.echo}: {headers.get(self.echo, '')}".encode()
        return body


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpStub:
    """Answers each path from its script in order, repeating the last answer; records every request."""

    server: ThreadingHTTPServer
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    scheme: str = "http"
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.server.server_port}"

    def script(self, path: str, *answers: Answer) -> str:
        with self.lock:
            self.scripts[path] = list(answers)
        return self.url + path

    def to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def _answer(self, request: Request) -> Answer:
        with self.lock:
            self.requests.append(request)
            script = self.scripts.get(request.path)
            if not script:
                return Answer(404, b"no script for this path")
            return script.pop(0) if len(script) > 1 else script[0]


def _handler(stub_ref: list[HttpStub]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The status line and headers go out in one write and the body in a second: with Nagle's
        # algorithm on, the body waits for the client's delayed ACK of the first, about 40 ms per answer.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request("POST", self.path, dict(self.headers.items()), self.rfile.read(length))
            answer = stub_ref[0]._answer(request)
            if answer.delay:
                time.sleep(answer.delay)
            body = answer.encoded(request.headers)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if answer.set_cookie is not None:
                    self.send_header("Set-Cookie", answer.set_cookie)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout under test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def http_stub(
    host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[HttpStub]:
    """A stub listening on ``host:port`` (any free port by default), speaking HTTPS with ``tls``."""
    ref: list[HttpStub] = []
    server = ThreadingHTTPServer((host, port), _handler(ref))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    stub = HttpStub(server, scheme="http" if tls is None else "https", host=host)
    ref.append(stub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
