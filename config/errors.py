"""Turning configuration problems into one readable line per variable.

Operators read these lines in pod logs and terminals; a pydantic traceback there hides the one fact
they need: which variable is wrong and why.
"""

from collections.abc import Iterable

from pydantic import ValidationError
from pydantic_core import ErrorDetails


class ConfigError(Exception):
    """The environment does not describe a runnable configuration."""


_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(error: ErrorDetails) -> str:
    message = error["msg"]
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message[:1].lower() + message[1:]


def _item_path(loc: tuple[int | str, ...]) -> str:
    """``[0].cron`` for an error inside a structured variable, so the operator finds the entry."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def describe_validation_error(
    exc: ValidationError, env_names: dict[str, str], secret_fields: Iterable[str] = ()
) -> str:
    """One line per bad variable: ``NAME: what is wrong, got 'value'`` (values of secrets are never shown)."""
    secrets = set(secret_fields)
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = env_names.get(field, field.upper()) + _item_path(error["loc"][1:])
        line = f"{name}: {_message(error)}"
        if error["type"] != "missing" and field not in secrets:
            line += f", got {error['input']!r}"
        lines.append(line)
    return "\n".join(lines)
