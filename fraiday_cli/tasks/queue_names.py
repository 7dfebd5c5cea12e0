"""Which queue names exist: the ones the registry routes to and the ones given a weight.

Operations on a mistyped queue (``pause -q event``) would succeed against a queue nobody serves and
leave the real one untouched, so the CLI and the dashboard accept only these names.
"""

from config import Settings
from handlers.registry import Registry


def known_queues(registry: Registry, settings: Settings) -> list[str]:
    """``registry`` as loaded for ``settings`` (so queues moved by FRAIDAY_TASK_QUEUES are in it), plus
    every queue named in FRAIDAY_QUEUE_WEIGHTS."""
    return sorted({*registry.queues, *settings.queue_weights})


def unknown_queues(names: list[str], known: list[str]) -> list[str]:
    return [name for name in dict.fromkeys(names) if name not in known]
