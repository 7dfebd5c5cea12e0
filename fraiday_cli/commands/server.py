"""``fraiday server``: the API under gunicorn.

The web stack (gunicorn, Flask, the OpenAPI and dashboard extensions) is imported when the command
runs, not when the CLI loads: every other command, a worker above all, starts without paying for it.
"""

import os
from typing import Annotated

import typer

from fraiday_cli.commands.common import from_settings, start
from fraiday_cli.commands.ports import ensure_can_listen
from fraiday_cli.observability.metrics import enable_multiprocess


def default_workers() -> int:
    """One process per usable CPU, at least 2 (one can restart while the other serves), at most 4.

    Requests are I/O-bound (Redis, MongoDB), so gevent's greenlets carry the concurrency; more processes
    mostly add memory, and the chart's limit is 256 MiB per pod.
    """
    return max(2, min(4, len(os.sched_getaffinity(0))))


def server(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
    port: Annotated[
        int | None,
        typer.Option(metavar="PORT", min=1, max=65535, help=f"Port to listen on. {from_settings('port')}"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", min=1, help="Gunicorn worker processes. [default: CPUs, 2 to 4]"),
    ] = None,
    connections: Annotated[
        int,
        typer.Option(
            metavar="N",
            min=1,
            help="Simultaneous connections per worker process (gevent), idle ones included.",
        ),
    ] = 1000,
    keep_alive: Annotated[
        int,
        typer.Option(
            metavar="SECONDS",
            min=1,
            help="Seconds a connection may take to send a request's headers, or stay idle between requests.",
        ),
    ] = 5,
    graceful_timeout: Annotated[
        int,
        typer.Option(
            metavar="SECONDS", min=1, help="Seconds in-flight requests get to finish on SIGTERM/SIGINT."
        ),
    ] = 30,
    access_log: Annotated[bool, typer.Option(help="Log every request as a JSON line.")] = True,
) -> None:
    """Serve the HTTP API (Flask under gunicorn)."""
    from fraiday_cli.server.gunicorn_app import FraidayGunicorn, ServerOptions

    settings = start()
    enable_multiprocess()
    options = ServerOptions(
        host=host,
        port=port or settings.port,
        workers=workers or default_workers(),
        connections=connections,
        keepalive=keep_alive,
        graceful_timeout=graceful_timeout,
        access_log=access_log,
    )
    ensure_can_listen(options.host, options.port, "--port or PORT")
    FraidayGunicorn(settings, options).run()
