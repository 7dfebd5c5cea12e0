"""The ``fraiday`` console script, which decides before anything else is imported whether this process
will serve HTTP.

The server's gunicorn workers are gevent's, and gevent must patch the standard library before ssl is
imported: urllib3 and pymongo import it as they load, and patched later, urllib3's TLS contexts recurse
without end and pymongo keeps blocking sockets (gevent issue 1016; its MonkeyPatchWarning at start said
so). Only the server is patched: workers rely on real threads and SIGALRM.
"""

import sys

from fraiday_cli.go_flags import ModeError, mode_as_command


def serves_http(args: list[str]) -> bool:
    """The server runs for ``fraiday server ...`` and for no command at all (the Go binary's default)."""
    command = next((arg for arg in args if not arg.startswith("-")), None)
    return command in (None, "server")


def run() -> None:
    try:
        args = mode_as_command(sys.argv[1:])
    except ModeError as error:
        sys.stderr.write(f"fraiday: {error}\n")
        raise SystemExit(2) from None
    if serves_http(args):
        from gevent import monkey

        monkey.patch_all()
    from fraiday_cli.main import app

    app(args=args, prog_name="fraiday")
