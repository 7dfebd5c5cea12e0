"""The job class a slot runs: RQ's ``Job``, with two round trips of its own folded into others.

RQ's ``Job.perform`` removes any expiry from the job's hash before running it, so a job enqueued with a
TTL cannot vanish while it runs: a round trip of its own, every job. A slot sends the same PERSIST in the
step that starts the job (``SlotWorker.start_job``), just before.

A slot checks, right after popping a job, whether its queue was paused meanwhile (it then puts the job
back): the job's load sends that read of the paused set in its own round trip, right after the pop as
before. ``refresh`` and ``perform`` are otherwise RQ's, line for line (tests/test_library_contract.py
compares them). ``restore`` first refuses stored data that would decompress beyond reason.

RQ builds a new registry object each time a job's ``started_job_registry`` or ``finished_job_registry``
is read, five times per job, and each build checks the serializer against a runtime ``Protocol``, which
Python 3.11 does slowly (about 20 µs each). A job's origin never changes, so a slot's job builds each once.
"""

from functools import cached_property
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job, _job_stack
from rq.registry import FinishedJobRegistry, StartedJobRegistry

from fraiday_cli.tasks.pausing import PAUSED_KEY, paused_names
from handlers.wire_format import check_data_size


class SlotJob(Job):
    paused_at_load: set[str] | None = None
    """The paused queues, read with the job's hash; None until the job is loaded."""

    def refresh(self) -> None:
        with self.connection.pipeline(transaction=False) as pipeline:
            pipeline.hgetall(self.key)
            pipeline.smembers(PAUSED_KEY)
            data, paused = pipeline.execute()
        self.paused_at_load = paused_names(paused)
        if not data:
            raise NoSuchJobError(f"No such job: {self.key}")
        self.restore(data)

    def restore(self, raw_data: Any) -> Any:
        """RQ's, once the stored data is known not to decompress beyond reason (RQ decompresses it whole:
        a planted zlib bomb would take gigabytes); a failure here refuses the job as unreadable."""
        check_data_size(raw_data.get(b"data"))
        return super().restore(raw_data)

    def perform(self) -> Any:
        _job_stack.push(self)
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result

    @cached_property
    def started_job_registry(self) -> StartedJobRegistry:
        return StartedJobRegistry(
            self.origin, connection=self.connection, job_class=self.__class__, serializer=self.serializer
        )

    @cached_property
    def finished_job_registry(self) -> FinishedJobRegistry:
        return FinishedJobRegistry(
            self.origin, connection=self.connection, job_class=self.__class__, serializer=self.serializer
        )
