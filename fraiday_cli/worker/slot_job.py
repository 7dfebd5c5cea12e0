"""The job class a slot runs: RQ's ``Job``, whose ``perform`` leaves the PERSIST of the job's hash to the
slot.

RQ's ``Job.perform`` removes any expiry from the job's hash before running it, so a job enqueued with a
TTL cannot vanish while it runs: a round trip of its own, every job. A slot sends the same PERSIST in the
transaction that starts the job (``SlotWorker.prepare_execution``), just before; the rest of ``perform``
is RQ's, line for line (tests/test_library_contract.py compares them).
"""

from typing import Any

from rq.job import Job, _job_stack


class SlotJob(Job):
    def perform(self) -> Any:
        _job_stack.push(self)
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result
