"""Periodic tasks declared in configuration (``FRAIDAY_PERIODIC_TASKS``), the seed's cron-like scheduling.

Only the shape and the cron syntax are checked here: ``config`` knows nothing of task types, so the
scheduler checks each entry's type and payload against the registry when it starts.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


def _cron(expression: str) -> str:
    # Imported only when an entry is checked: croniter runs `file` on the interpreter as it loads (its
    # 32-bit check calls platform.architecture()), about 0.1 s of every process that reads settings.
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise ValueError(
            f"{expression!r} is not a cron expression (5 fields, or 6 with seconds last: '*/10 * * * * 30')"
        )
    return expression


class PeriodicTask(BaseModel):
    """One entry: ``{"name": "nightly-sync", "cron": "0 3 * * *", "task_type": ..., "payload": {...}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    cron: Annotated[str, AfterValidator(_cron)]
    task_type: str
    payload: dict[str, Any] = Field(default_factory=dict)
