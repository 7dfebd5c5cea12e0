"""A port fraiday cannot listen on is a configuration mistake: one line naming the port and what changes it.

Without this, a taken server port meant gunicorn retrying for five seconds and exiting 1 among its own
log lines, and a taken metrics port a 45-line traceback from the worker's probe server.
"""

import errno
import socket
from typing import NoReturn

from fraiday_cli.commands.common import fail


def cannot_listen(host: str, port: int, error: OSError, changed_by: str) -> NoReturn:
    """Exit 2 with one line: the port, why, and the option or variable that moves it."""
    if error.errno == errno.EADDRINUSE:
        fail(f"port {port} is already in use; choose another with {changed_by}")
    fail(f"cannot listen on {host}:{port}: {error.strerror or error}; choose another port with {changed_by}")


def ensure_can_listen(host: str, port: int, changed_by: str) -> None:
    """Bind and release the address the way gunicorn will (SO_REUSEADDR), before gunicorn tries."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            cannot_listen(host, port, error, changed_by)
