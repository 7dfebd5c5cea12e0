"""The worker pod's HTTP port (``--metrics-port``): ``/metrics``, ``/livez`` and ``/readyz``.

Liveness asks whether the pool is doing its job: every slot process alive and heartbeating to Redis
within the worker TTL (a hung slot stops heartbeating). It does not fail because Redis is down: a restart
would not bring Redis back. Readiness is exactly that: Redis answers.
"""

import json
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from rq.worker_pool import WorkerData

from fraiday_cli.observability.metrics import exposition
from handlers.wire_format import worker_key

log = logging.getLogger("fraiday.worker")


class Probes:
    def __init__(
        self,
        slots: Callable[[], Sequence[WorkerData]],
        connection: redis.Redis,
        queues: Sequence[str],
        stale_after_seconds: float,
    ) -> None:
        self.slots = slots
        self.connection = connection
        self.queues = list(queues)
        self.stale_after = stale_after_seconds

    def live(self) -> tuple[bool, dict[str, Any]]:
        slots = list(self.slots())
        dead = [slot.name for slot in slots if not slot.process.is_alive()]
        stale: list[str] = []
        try:
            for slot in slots:
                age = self._heartbeat_age(slot.name)
                if age is not None and age > self.stale_after:
                    stale.append(slot.name)
        except redis.RedisError:
            pass  # not the pool's fault; readiness reports it
        return not dead and not stale, {"slots": len(slots), "dead": dead, "stale": stale}

    def _heartbeat_age(self, slot_name: str) -> float | None:
        beat = self.connection.hget(worker_key(slot_name), "last_heartbeat")
        if not beat:
            return None  # not registered yet (starting) or already gone (stopping)
        text = beat.decode() if isinstance(beat, bytes) else str(beat)
        return (datetime.now(UTC) - datetime.fromisoformat(text).replace(tzinfo=UTC)).total_seconds()

    def ready(self) -> tuple[bool, dict[str, Any]]:
        try:
            self.connection.ping()
        except redis.RedisError as error:
            return False, {"redis": f"unreachable: {type(error).__name__}"}
        return True, {"redis": "ok"}


def serve(probes: Probes, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104
    """Serve the probes and metrics from a daemon thread; the pool's main loop is unaffected."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, exposition(probes.connection, probes.queues), "text/plain; version=0.0.4")
                return
            checks = {"/livez": probes.live, "/readyz": probes.ready}
            if self.path not in checks:
                self._send(404, b'{"error": "not_found"}', "application/json")
                return
            ok, detail = checks[self.path]()
            body = json.dumps({"status": "ok" if ok else "failing", **detail}).encode()
            self._send(200 if ok else 503, body, "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    log.info("metrics and probes on port %d", server.server_port)
    return server
