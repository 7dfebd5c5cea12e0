"""What every command does first: read settings (or exit 2), set up logging, load the registry."""

import importlib
import logging
import signal
import threading
from types import FrameType
from typing import NoReturn

import typer

from config import ConfigError, Settings, load_settings
from config.logs import configure_logging
from handlers.errors import UnknownTaskType
from handlers.registry import Registry

DEFAULT_REGISTRY = "handlers.tasks:REGISTRY"


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


def stop_on_signals(log: logging.Logger) -> threading.Event:
    """An event set by SIGTERM or SIGINT, for a command whose loop stops cleanly between steps."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("stop requested")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
