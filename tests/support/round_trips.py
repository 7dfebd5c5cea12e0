"""Counts what redis-py sends in this process: one send per command, or per pipeline (a round trip)."""

from typing import Any

from redis.connection import AbstractConnection


class RoundTrips:
    def __init__(self) -> None:
        self.count = 0
        self._send = AbstractConnection.send_packed_command

    def __enter__(self) -> "RoundTrips":
        send = self._send

        def counted(connection: AbstractConnection, *args: Any, **kwargs: Any) -> None:
            self.count += 1
            send(connection, *args, **kwargs)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        AbstractConnection.send_packed_command = self._send  # type: ignore[method-assign]
