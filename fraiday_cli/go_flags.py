"""The Go binary's command line, so manifests written for it run fraiday unchanged.

The Go service chose its role with a flag (``api-service --mode=worker --queue=events --concurrency=2``);
fraiday chooses it with a command (``fraiday worker --queue=events --concurrency=2``). Rewriting the flag
into the command before typer parses keeps one parser and one set of options per role: everything else
on the line (``--queue``, ``--concurrency`` and fraiday's own options) reaches the command as written.

Go's flag package also takes one dash (``-queue=events``). Click would read that as ``-q`` with the
value ``ueue=events`` and run a worker on a queue nobody uses, so the Go binary's own flags are accepted
with one dash too.
"""

from collections.abc import Sequence

MODES = ("server", "worker")
FLAG = "--mode"
GO_FLAGS = ("mode", "queue", "concurrency")


class ModeError(ValueError):
    def __init__(self, value: str | None) -> None:
        shown = "no value" if value is None else repr(value)
        super().__init__(f"--mode must be one of {', '.join(MODES)} (got {shown})")


def _double_dash(arg: str) -> str:
    name = arg[1:].partition("=")[0]
    return "-" + arg if arg.startswith("-") and not arg.startswith("--") and name in GO_FLAGS else arg


def mode_as_command(args: Sequence[str]) -> list[str]:
    """``--mode X`` or ``--mode=X`` anywhere before a command becomes the command ``X``, first.

    Go's flag package reads flags in any order before positional arguments, so only a line that starts
    with an option is rewritten; a line that names a command is left to that command's parser.
    """
    args = [_double_dash(arg) for arg in args]
    if not args or not args[0].startswith("-"):
        return args
    for index, arg in enumerate(args):
        if arg == FLAG:
            value = args[index + 1] if index + 1 < len(args) else None
            rest = args[:index] + args[index + 2 :]
        elif arg.startswith(FLAG + "="):
            value = arg.removeprefix(FLAG + "=")
            rest = args[:index] + args[index + 1 :]
        else:
            continue
        if value not in MODES:
            raise ModeError(value)
        return [value, *rest]
    return args
