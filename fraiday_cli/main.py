"""The ``fraiday`` entry point: ``server`` (the default, as in the Go binary), ``worker`` and operations."""

from typing import Annotated, Any

import redis
import typer
from typer.core import TyperGroup

from fraiday_cli import __version__
from fraiday_cli.commands.asynq_bridge import asynq_bridge
from fraiday_cli.commands.celery_bridge import celery_bridge
from fraiday_cli.commands.enqueue import enqueue
from fraiday_cli.commands.pausing import drain, pause, resume
from fraiday_cli.commands.purge import purge
from fraiday_cli.commands.queues import jobs, queues
from fraiday_cli.commands.requeue import requeue
from fraiday_cli.commands.scheduler import scheduler
from fraiday_cli.commands.server import server
from fraiday_cli.commands.worker import worker
from fraiday_cli.unreachable import UNREACHABLE, describe_unreachable, reason
from handlers.wire_format import is_wrong_type


class FraidayGroup(TyperGroup):
    """Every command's unreachable Redis or MongoDB becomes one line and exit code 1, here, once."""

    # ``Any``: typer 0.29 types this with its vendored, private click; the test of an unreachable Redis
    # through the real CLI fails loudly if the hook stops being called.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UNREACHABLE as error:
            typer.echo(f"fraiday: {describe_unreachable(error)}", err=True)
            raise typer.Exit(1) from None
        except redis.ResponseError as error:
            if not is_wrong_type(error):
                raise
            # A key of fraiday's written by hand as another type: Redis's error does not name the key.
            typer.echo(f"fraiday: a Redis key of fraiday's holds another type: {reason(error)}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="fraiday",
    cls=FraidayGroup,
    help="Fraiday API service and task workers. With no command, runs the server. "
    "The Go binary's --mode=server and --mode=worker are accepted as the commands server and worker.",
    epilog="Every command reads its configuration from environment variables (REDIS_URL or REDIS_HOST, "
    "REDIS_PORT, REDIS_PASSWORD; MONGODB_URI; LOG_LEVEL; FRAIDAY_*): see the README's configuration table.",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command()(server)
app.command()(worker)
app.command()(enqueue)
app.command()(requeue)
app.command()(scheduler)
app.command("celery-bridge")(celery_bridge)
app.command("asynq-bridge")(asynq_bridge)
for operation in (queues, jobs, purge, pause, resume, drain):
    app.command()(operation)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fraiday {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Fraiday: the API server and its task workers. With no command, runs the server."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(server)
