"""``fraiday scheduler``: enqueue the periodic tasks of ``FRAIDAY_PERIODIC_TASKS`` on their cron times.

Run two for availability: one leads, the other stands by and takes over within half the recovery bound
(``FRAIDAY_RECOVERY_SECONDS``) of the leader dying, at once on a clean stop.
"""

import logging

from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    RegistryOption,
    fail,
    load_registry,
    start,
    stop_on_signals,
)
from fraiday_cli.connections import redis_client
from fraiday_cli.tasks.client import TaskClient
from handlers.errors import PermanentError

log = logging.getLogger("fraiday.scheduler")


def scheduler(registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Run the periodic-task scheduler (at most one is active; others stand by)."""
    # Here, not at the top: croniter runs `file` on the interpreter as it loads (about 0.1 s), and every
    # other command (the worker's start-up among them) imports this module to build the CLI.
    from fraiday_cli.scheduler.periodic import PeriodicScheduler

    settings = start()
    tasks = load_registry(settings, registry)
    for entry in settings.periodic_tasks:
        try:
            tasks.get(entry.task_type).parse(entry.payload)
        except PermanentError as exc:
            fail(f"FRAIDAY_PERIODIC_TASKS entry {entry.name!r}: {exc}")
    if not settings.periodic_tasks:
        log.warning("FRAIDAY_PERIODIC_TASKS is empty: this scheduler has nothing to enqueue")
    connection = redis_client(settings)
    periodic = PeriodicScheduler(
        connection,
        TaskClient(connection, tasks),
        settings.periodic_tasks,
        lock_seconds=max(2, settings.recovery_seconds // 2),
    )
    stop = stop_on_signals(log)  # before the line that says it runs: a stop from then on is clean
    log.info("scheduler started with %d periodic task(s)", len(settings.periodic_tasks))
    periodic.run(stop)
