"""Run the Flask app under gunicorn in-process, configured from our settings rather than a config file.

``load()`` runs in each gunicorn worker after the fork and calls :func:`create_app` there, so no client
is ever shared across processes.

Workers are gevent's: each connection is a greenlet, so clients that connect and send nothing, or send
their headers a byte at a time, cost a greenlet each instead of one of a few threads. With gthread
(2 processes of 8 threads) 32 such slow clients, or 200 idle ones, kept ``/ping`` from answering at all;
with gevent it answers in milliseconds (tests/server/test_gunicorn_edges.py). Gevent's worker also reads
each request head under the keep-alive timeout, so a connection that has not sent a whole request head
within ``keepalive`` seconds of its accept is closed, idle or slow alike (a reset, not an end-of-file,
when bytes arrived as the timer fired: the worker closes without reading them). Production still
belongs behind an ingress or proxy that buffers requests (README, "Running in production").
"""

from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from config import Settings
from fraiday_cli.observability.tracing import configure_tracing
from fraiday_cli.server.app import create_app
from fraiday_cli.server.gunicorn_errors import answer_errors_as_json


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    workers: int
    connections: int = 1000
    """Simultaneous connections per worker process, idle ones included."""
    keepalive: int = 5
    """Seconds a connection may take to send a request head, and may stay idle between requests."""
    graceful_timeout: int = 30
    timeout: int = 60
    access_log: bool = True


class JsonAccessLogger(Logger):  # type: ignore[misc]
    """Gunicorn's loggers without gunicorn's handlers: lines go through our JSON root handler.

    ``setup`` runs gunicorn's own first (it sets levels and state ``access`` reads, such as gunicorn 27's
    ``_access_log_enabled``), then drops the handlers it attached."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.handlers.clear()
            log.propagate = True

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        status = int(str(resp.status).split(None, 1)[0])
        duration_ms = round(request_time.total_seconds() * 1000, 2)
        self.access_log.info(
            "%s %s %s",
            req.method,
            req.path,
            status,
            extra={
                "method": req.method,
                "path": req.path,
                "status": status,
                "duration_ms": duration_ms,
                "remote_addr": environ.get("REMOTE_ADDR"),
                "request_id": resp.headers and dict(resp.headers).get("X-Request-ID"),
            },
        )


class DrainingArbiter(Arbiter):  # type: ignore[misc]
    """SIGINT drains in-flight requests like SIGTERM, instead of gunicorn's quick shutdown."""

    def handle_int(self) -> None:
        self.handle_term()


class FraidayGunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: ServerOptions) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        opts = self.options
        config = {
            "bind": [f"[{opts.host}]:{opts.port}" if ":" in opts.host else f"{opts.host}:{opts.port}"],
            "workers": opts.workers,
            "worker_class": "gevent",
            "worker_connections": opts.connections,
            "keepalive": opts.keepalive,
            "post_worker_init": answer_errors_as_json,
            "graceful_timeout": opts.graceful_timeout,
            "timeout": opts.timeout,
            "accesslog": "-" if opts.access_log else None,
            "logger_class": JsonAccessLogger,
            "loglevel": self.settings.log_level.lower(),
            "proc_name": "fraiday-server",
            "preload_app": False,
            "forwarded_allow_ips": "127.0.0.1",
        }
        if "control_socket_disable" in self.cfg.settings:
            # Gunicorn 24+ opens a control socket under $HOME by default: unused here, and it would
            # fail on a read-only root filesystem.
            config["control_socket_disable"] = True
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        configure_tracing("fraiday-server")
        return create_app(self.settings)

    def run(self) -> None:
        DrainingArbiter(self).run()
