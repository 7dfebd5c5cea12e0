"""``fraiday enqueue``: put one task on its queue from the command line (and list the task types)."""

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from fraiday_cli.commands.common import DEFAULT_REGISTRY, RegistryOption, fail, load_registry, start
from fraiday_cli.commands.tables import table
from fraiday_cli.connections import redis_client
from fraiday_cli.durations import parse_duration
from fraiday_cli.tasks.client import InvalidTaskId, TaskClient
from handlers.errors import PermanentError
from handlers.registry import Registry


def describe(registry: Registry) -> str:
    header = ("TASK TYPE", "QUEUE", "ATTEMPTS", "TIMEOUT", "PAYLOAD FIELDS")
    rows = [
        (spec.name, spec.queue, spec.retry.max_attempts, f"{spec.timeout_seconds}s", ", ".join(spec.fields))
        for spec in registry
    ]
    return table(header, rows)


def parse_at(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at: {text!r} is not an ISO 8601 time such as 2026-12-01T09:30:00Z")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def enqueue(
    task_type: Annotated[
        str | None, typer.Argument(metavar="TASK_TYPE", help="Task type, e.g. event:process.")
    ] = None,
    payload: Annotated[str, typer.Option(metavar="JSON", help="Payload as a JSON object.")] = "{}",
    in_: Annotated[
        str | None,
        typer.Option("--in", metavar="DURATION", help="Run after a delay: 90, 30s, 5m, 2h. [default: now]"),
    ] = None,
    at: Annotated[
        str | None, typer.Option(metavar="TIME", help="Run at an ISO 8601 time. [default: now]")
    ] = None,
    task_id: Annotated[
        str | None,
        typer.Option(
            metavar="ID", help="Task id; a task with this id is enqueued once. [default: a new random id]"
        ),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List task types, queues and payload fields.")
    ] = False,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Enqueue a task and print its id."""
    settings = start()
    tasks = load_registry(settings, registry)
    if list_:
        typer.echo(describe(tasks))
        return
    if task_type is None:
        fail("missing TASK_TYPE (see `fraiday enqueue --list`)")
    if in_ and at:
        fail("give --in or --at, not both")
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not valid JSON: {exc}")
    except RecursionError:
        fail("--payload is not valid JSON: nested too deeply")
    try:
        delay = parse_duration(in_) if in_ else None
    except ValueError as exc:
        fail(f"--in: {exc}")
    run_at = parse_at(at) if at else None
    client = TaskClient(redis_client(settings), tasks)
    try:
        result = client.enqueue(task_type, data, task_id=task_id, delay=delay, run_at=run_at)
    except (PermanentError, InvalidTaskId) as exc:
        fail(str(exc))
    if result.duplicate:
        typer.echo(f"fraiday: an equal {result.task_type} task is already pending; its id follows", err=True)
    typer.echo(result.task_id)
