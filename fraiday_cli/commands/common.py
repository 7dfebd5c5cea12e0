"""What every command does first: read settings (or exit 2), set up logging, load the registry, check
the queue names it was given; and the options several commands share."""

import importlib
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import redis
import typer

from config import ConfigError, Settings, load_settings
from config.logs import configure_logging
from config.settings import env_names
from fraiday_cli.tasks.queue_names import known_queues, unknown_queues
from handlers.errors import UnknownTaskType
from handlers.registry import Registry

DEFAULT_REGISTRY = "handlers.task_types:REGISTRY"

QueueOption = Annotated[str, typer.Option("--queue", "-q", metavar="QUEUE", help="The queue.")]
RegistryOption = Annotated[str, typer.Option(hidden=True, help="Task registry as module:attribute.")]
MetricsPortOption = Annotated[
    int, typer.Option(metavar="PORT", min=0, max=65535, help="Port of /metrics; 0 disables.")
]


def queues_option(what: str, default: str) -> Any:
    """The ``--queue`` of a command that takes several queues and has a default for none."""
    return typer.Option(
        "--queue", "-q", metavar="QUEUE", help=f"{what}; repeat for several. [default: {default}]"
    )


def from_settings(field: str) -> str:
    """The help suffix of an option whose default is a setting, in click's own ``[env var: ...]`` format:
    the variable and default come from the settings model, and the settings read and check the value."""
    return f"[env var: {env_names()[field]}; default: {Settings.model_fields[field].default}]"


def fail(message: str) -> NoReturn:
    """Bad input from the user: one line on stderr and exit code 2, never a traceback."""
    typer.echo(f"fraiday: {message}", err=True)
    raise typer.Exit(2)


def start(log_format: str | None = None) -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}")
    configure_logging(settings.log_level, log_format or settings.log_format, settings.secret_values())
    return settings


def load_registry(settings: Settings, path: str = DEFAULT_REGISTRY) -> Registry:
    module_name, _, attribute = path.partition(":")
    try:
        registry = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        fail(f"cannot load the task registry {path!r}: {exc}")
    if not isinstance(registry, Registry):
        fail(f"{path!r} is not a task registry")
    try:
        return registry.with_queues(settings.task_queues)
    except UnknownTaskType as exc:
        fail(f"FRAIDAY_TASK_QUEUES: {exc}")


def check_queues(settings: Settings, registry: Registry, names: Sequence[str]) -> None:
    """A mistyped queue is bad input: exit 2 with the names that would have worked."""
    known = known_queues(registry, settings)
    unknown = unknown_queues(list(names), known)
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        fail(f"unknown queue {listed}; known queues: {', '.join(known)}")


def stop_on_signals(log: logging.Logger) -> threading.Event:
    """An event set by SIGTERM or SIGINT, for a command whose loop stops cleanly between steps."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("stop requested")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def bridged_redis(url: str, option: str, read_timeout_seconds: float) -> redis.Redis:
    """The legacy system's Redis that a bridge drains, which may not be fraiday's own: only Redis URLs,
    a short connect timeout, and reads that outlast the bridge's blocking waits."""
    if urlsplit(url).scheme not in ("redis", "rediss"):
        fail(f"{option}: must be a redis:// or rediss:// URL")
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=read_timeout_seconds)
