"""One worker slot: an RQ worker that runs jobs in its own process, with fraiday's policies on top.

Each slot is one forked process of the pool and runs its jobs in-process (RQ's SimpleWorker) rather than
forking a work-horse per job: the fork costs milliseconds per job and rebuilds every client (MongoDB,
HTTP pools) each time. What the fork protected against is kept another way: a job that crashes the
process only takes its slot down (the pool starts a new one and the job's short lease expires, so it is
recovered promptly), timeouts still interrupt the job with SIGALRM, and ``max_jobs`` recycles a slot that
might leak.
"""

import logging
import random
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal

import redis
from rq import worker_registration
from rq.exceptions import DeserializationError, StopRequested
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.suspension import is_suspended
from rq.timeouts import BaseDeathPenalty
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus

from config.redaction import Redactor
from fraiday_cli.tasks.pausing import paused_queues
from fraiday_cli.tasks.task_queue import TaskQueue
from fraiday_cli.worker.guarded_writes import packed_writes
from fraiday_cli.worker.lease import LeaseKeeper
from fraiday_cli.worker.next_job import NextJob, pop_args, popped
from fraiday_cli.worker.popped_jobs import drop_undecodable, put_back, refuse
from fraiday_cli.worker.queue_order import strict_order, weighted_order, weights_for
from fraiday_cli.worker.slot_job import SlotJob
from fraiday_cli.worker.slot_signals import (
    INTERRUPT_SIGNAL,
    STOP_SIGNALS,
    InterruptibleDeathPenalty,
    ShutdownInterrupt,
)
from fraiday_cli.worker.start_claim import StartClaim
from handlers.errors import PermanentError
from handlers.wire_format import (
    ATTEMPTS_META,
    MAX_ATTEMPTS_META,
    Poison,
    attempt_number,
    is_wrong_type,
    loaded_poison_reason,
)

log = logging.getLogger("fraiday.worker")

IDLE_QUEUE = "fraiday-idle"
HEARTBEAT_EVERY_SECONDS = 1.0
"""RQ beats a worker's heartbeat twice per dequeue; a slot sends at most one this often outside a job's own
bookkeeping, far inside the worker TTL (``maintenance_seconds`` plus a margin) that probes and cleanup
read, so a busy slot does not spend two round trips per job on it."""
PAUSED_POLL_SECONDS = 0.5
"""How often a slot serving a paused queue looks again: the bound on a resumed queue's first start."""


@dataclass(frozen=True)
class SlotPolicy:
    weights: dict[str, int]
    strict: bool = False
    lease_seconds: int = 30
    redactor: Redactor = field(default_factory=Redactor)
    """Masks configured secrets in the traceback RQ stores for a failed attempt (its ``last_error``)."""


class SlotWorker(SimpleWorker):
    death_penalty_class: type[BaseDeathPenalty] = InterruptibleDeathPenalty
    queue_class = TaskQueue
    job_class = SlotJob

    def __init__(
        self, queues: Sequence[str] | Sequence[Queue], *args: Any, policy: SlotPolicy, **kwargs: Any
    ) -> None:
        super().__init__(queues, *args, **kwargs)
        self.policy = policy
        self._rng = random.Random()
        names = [q.name for q in self.queues]
        self._queue_named = dict(zip(names, self.queues, strict=True))
        self._weight_of = dict(zip(names, weights_for(names, policy.weights), strict=True))
        self._requeue_job_id: str | None = None
        self._interrupt_requested = False
        self._taking_stop_signals = False
        self._waiting = False
        self.push_exc_handler(self._classify_failure)
        self._idle_queue = Queue(IDLE_QUEUE, connection=self.connection, serializer=self.serializer)
        self._paused_read: set[str] | None = None
        self._paused_after_job: set[str] | None = None
        self._next_job: NextJob | None = None
        self._heartbeat_sent_at = 0.0
        self._suspension_checked_at = 0.0
        self._lease = LeaseKeeper(self, policy.lease_seconds)
        self._claim_start = StartClaim(self.connection)

    @property
    def _ordered_queues(self) -> list[Queue]:
        """The queues for the next dequeue, read by RQ before each one: a fresh weighted draw, without
        the paused queues. With every queue paused the slot waits on a queue nobody fills. A read the
        dequeue loop has just made is used once rather than asking Redis twice for the same wait."""
        paused, self._paused_read = self._paused_read, None
        if paused is None:
            paused = paused_queues(self.connection)
        queues = self._draw([q for q in self.queues if q.name not in paused])
        return queues or [self._idle_queue]

    @_ordered_queues.setter
    def _ordered_queues(self, value: list[Queue]) -> None:
        """RQ assigns its own order at start; ours is drawn on every read instead."""

    def _draw(self, queues: list[Queue]) -> list[Queue]:
        weights = [self._weight_of[q.name] for q in queues]
        if self.policy.strict:
            return strict_order(queues, weights)
        return weighted_order(queues, weights, self._rng)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's dequeue, one wait at a time, so pausing is exact and a job that is not fraiday's never runs.

        While any of the slot's queues is paused, each wait lasts ``PAUSED_POLL_SECONDS``, so a resume is
        seen at once rather than after a whole idle wait. A job popped from a queue paused meanwhile goes
        back to the front of it, and one that is not a fraiday job goes to the failed registry unrun. A job
        popped with the last success (:mod:`fraiday_cli.worker.next_job`) is taken first, without a wait.
        """
        if not self._taking_stop_signals:
            self._taking_stop_signals = True
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a stop held since start lands here
        idle_until = None if max_idle_time is None else time.monotonic() + max_idle_time
        while True:
            self._stop_if_requested()
            if self._next_job is not None:  # the paused set read with it was read for its pop
                taken = self._take_next_job(self._next_job)
                self._next_job, self._paused_after_job = None, None
                if taken is not None:
                    return taken
                continue
            wait = timeout
            known, self._paused_after_job = self._paused_after_job, None
            self._paused_read = known if known is not None else paused_queues(self.connection)
            if timeout is not None and any(q.name in self._paused_read for q in self.queues):
                wait = PAUSED_POLL_SECONDS  # type: ignore[assignment]  # Redis takes fractional seconds
            try:
                result = self._wait_for_job(wait)
            except Exception as error:
                # RQ tags an error loading a popped job with its id and queue: a hash it cannot read (a text
                # field not UTF-8 among them). A Redis error is not the job's fault, and the job is recovered
                # like any lost pop.
                job_id, queue = getattr(error, "job_id", None), getattr(error, "queue", None)
                if isinstance(error, UnicodeDecodeError) and job_id is None:  # the popped id names no job
                    drop_undecodable(self.connection, self.queues, error.object)
                    continue
                outage = isinstance(error, redis.RedisError) and not (
                    isinstance(error, redis.ResponseError) and is_wrong_type(error)  # a planted non-hash key
                )
                stop = isinstance(error, StopRequested)  # its job is back on its queue (_wait_for_job)
                if outage or stop or not isinstance(queue, Queue) or job_id is None:
                    raise
                refuse(self.connection, queue, str(job_id), Poison.unreadable(error))
                continue
            if result is None:
                if timeout is None or (idle_until is not None and time.monotonic() >= idle_until):
                    return None
                continue
            job, queue = result
            paused = getattr(job, "paused_at_load", None)  # read with the job's hash (SlotJob)
            if queue.name in (paused if paused is not None else paused_queues(self.connection)):
                put_back(self.connection, job.id, queue, "its queue is paused")
                continue
            poison = loaded_poison_reason(job, queue.name)
            if poison is not None:
                refuse(self.connection, queue, job.id, poison)
                continue
            return result

    def _stop_if_requested(self) -> None:
        """A stop taken since RQ's loop last checked: the job held goes back to its queue (teardown)."""
        if self._stop_requested:
            raise StopRequested()

    def _wait_for_job(self, wait: int | None) -> tuple[Job, Queue] | None:
        """RQ's dequeue, one wait of it: the one place a stop is raised (:meth:`_shutdown`), no job held."""
        self._waiting = True
        try:
            # max_idle_time=wait: RQ returns after this one wait instead of waiting again itself.
            return super().dequeue_job_and_maintain_ttl(wait, max_idle_time=wait)
        except StopRequested as stop:
            # Landing while RQ loaded a job it had just popped, RQ tags the stop with it: it goes back to
            # the front of its queue (it was refused as unreadable, unrun, and the stop lost with it).
            job_id, queue = getattr(stop, "job_id", None), getattr(stop, "queue", None)
            if job_id is not None and isinstance(queue, Queue):
                self._put_back(str(job_id), queue, "the slot is stopping")
            raise
        finally:
            self._waiting = False

    def _take_next_job(self, next_job: NextJob) -> tuple[Job, Queue] | None:
        """The job popped with the last success (:mod:`fraiday_cli.worker.next_job`), loaded as RQ's
        dequeue loads a popped one, or None if it is not to run: refused as the dequeue refuses one, or
        gone. Its queue was not paused when it was popped."""
        queue = next_job.queue
        try:
            job_id = next_job.job_id.decode()
        except UnicodeDecodeError:
            drop_undecodable(self.connection, [queue], next_job.job_id)
            return None
        if next_job.unreadable is not None:
            refuse(self.connection, queue, job_id, Poison.unreadable(next_job.unreadable))
            return None
        if not next_job.data:  # deleted meanwhile: RQ's dequeue passes over it too
            self.connection.lrem(queue.intermediate_queue_key, 1, job_id)
            return None
        try:
            job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
            job.restore(next_job.data)
        except Exception as error:
            refuse(self.connection, queue, job_id, Poison.unreadable(error))
            return None
        poison = loaded_poison_reason(job, queue.name)
        if poison is not None:
            refuse(self.connection, queue, job.id, poison)
            return None
        job.redis_server_version = self.get_redis_server_version()
        self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
        return job, queue

    def _put_back_next_job(self, why: str) -> None:
        """A job popped with the last success goes back to the front of its queue if it will not run
        next. With Redis unreachable it stays popped, and the orphan sweep requeues it."""
        next_job, self._next_job = self._next_job, None
        if next_job is not None:
            self._put_back(next_job.job_id, next_job.queue, why)

    def _put_back(self, job_id: str | bytes, queue: Queue, why: str) -> None:
        try:
            put_back(self.connection, job_id, queue, why)
        except redis.RedisError as error:
            log.warning("could not put job %r back on %s: %s", job_id, queue.name, error)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ reads ``rq suspend``'s key (with a heartbeat) in a transaction before every job; a slot
        reads it at most once per ``HEARTBEAT_EVERY_SECONDS``, so a suspension is seen within that."""
        if time.monotonic() - self._suspension_checked_at < HEARTBEAT_EVERY_SECONDS:
            return
        if self._next_job is not None and is_suspended(self.connection, self):
            self._put_back_next_job("workers are suspended")
        super().check_for_suspension(burst)
        self._suspension_checked_at = time.monotonic()

    def teardown(self) -> None:
        self._put_back_next_job("the slot is stopping")
        super().teardown()

    def start_job(self, job: Job, queue: Queue) -> bool:
        """A job's start in one round trip, and only if it is still the job this slot popped
        (:class:`StartClaim`); False, nothing written, if it was handed on.

        RQ writes a start in two transactions (the execution record and the worker's state in
        ``prepare_execution``, then the job's status, heartbeats and current job in
        ``prepare_job_execution``); the dispatcher wrote the attempt counter in a third, and
        ``Job.perform`` its PERSIST of the job's hash in a fourth (:class:`SlotJob` leaves it out). The writes
        are RQ's own, in its order (tests/test_library_contract.py compares them with RQ's); the job always
        leaves RQ's intermediate list, which RQ only does for a one-queue worker, as a slot with paused
        queues pops through it too.
        """
        heartbeat_ttl = self.get_heartbeat_ttl(job)
        max_attempts = job.meta.get(MAX_ATTEMPTS_META)
        with self.connection.pipeline(transaction=False) as pipeline:  # queued only: the claim sends them
            execution = Execution.create(job, heartbeat_ttl, pipeline=pipeline, worker_name=self.name)
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            self.set_current_job_id(job.id, pipeline=pipeline)
            self.set_current_job_working_time(0, pipeline=pipeline)
            self.heartbeat(heartbeat_ttl, pipeline=pipeline)
            job.heartbeat(now(), heartbeat_ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            pipeline.lrem(queue.intermediate_queue_key, 1, job.id)
            pipeline.persist(job.key)  # RQ's Job.perform sends it on its own: SlotJob's does not
            if isinstance(max_attempts, int):  # else the dispatcher counts it, with its task type's default
                job.meta[ATTEMPTS_META] = attempt_number(max_attempts, job.retries_left)
                pipeline.hset(job.key, mapping={"meta": job.serializer.dumps(job.meta)})
            self._lease.extend(pipeline, job, execution)
            if not self._claim_start(job, queue, packed_writes(pipeline)):
                return False
        self.execution = execution
        return True

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Its writes went out with :meth:`start_job`'s."""
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")

    def run_maintenance_tasks(self) -> None:
        """The pool process does maintenance (fraiday_cli.worker.maintenance), busy slots or not; RQ's own
        would race it and send recovered jobs the slow way, through retry scheduling."""
        self.last_cleaned_at = now()  # type: ignore[assignment]  # RQ annotates it None only

    def reorder_queues(self, reference_queue: Queue) -> None:
        """No order to change (it is drawn when RQ reads it); RQ calls this as soon as its dequeue has a
        job, so the wait a stop may interrupt (:meth:`_shutdown`) ends here: RQ's heartbeat after it, a
        round trip each second, was a window in which a stop left the popped job in RQ's intermediate list
        (a slot with job threads pops every job through RQ's dequeue)."""
        self._waiting = False

    def get_heartbeat_ttl(self, job: Job) -> int:
        return self.policy.lease_seconds

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, sent in one round trip, and skipped when a plain one went out less than
        ``HEARTBEAT_EVERY_SECONDS`` ago (a lease renewal or a job's bookkeeping passes a pipeline and
        always writes).

        The plain heartbeat also rewrites the slot's registration (its hash and the worker sets), which
        costs nothing in the same round trip: a Redis restarted without its data otherwise keeps serving
        jobs to slots that ``fraiday queues`` counts as 0 workers for good."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        if timeout is None and time.monotonic() - self._heartbeat_sent_at < HEARTBEAT_EVERY_SECONDS:
            return
        with self.connection.pipeline(transaction=False) as own:
            super().heartbeat(timeout, pipeline=own)
            if self.birth_date is not None:  # a slot not yet born has no registration to restore
                own.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, own)
            own.execute()
        self._heartbeat_sent_at = time.monotonic()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ sets IDLE after a job and again before the next dequeue: write only a change."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline=pipeline)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """RQ writes the job's last heartbeat here on its own; every outcome that follows (success,
        failure, retry, requeue) saves the whole job hash, that field included, in its transaction."""
        job.ended_at = now()
        job.last_heartbeat = job.ended_at

    def cleanup_execution(self, job: Job, pipeline: Any) -> None:
        """Every outcome (success, failure, retry, requeue, a lost lease) ends here, in its transaction:
        the slot is idle again in the same round trip rather than one more after it."""
        super().cleanup_execution(job, pipeline)
        self.set_state(WorkerStatus.IDLE, pipeline=pipeline)

    def execute_job(self, job: Job, queue: Queue) -> None:
        if not self.start_job(job, queue):
            return
        with self._lease.hold(job):
            self.perform_job(job, queue)
        self.set_state(WorkerStatus.IDLE)

    def _shutdown(self) -> None:
        """RQ raises StopRequested wherever a stop lands while the slot is not busy, and a slot is idle
        from the moment its outcome's writes are queued: a stop landing while the success script ran lost
        the next job it popped (in RQ's intermediate list until an orphan sweep, after the worker had
        exited), and one landing before it was sent failed a job that had succeeded (its retry ran it again)
        and was swallowed there: the slot worked on until the grace period ended.
        A slot raises it only in its blocking wait, where it holds no job; elsewhere its loop takes the
        stop at its next check, and the job it holds goes back to its queue (:meth:`teardown`)."""
        if self._waiting or self.get_state() == WorkerStatus.BUSY:
            super()._shutdown()
            return
        self._stop_requested = True

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        signal.signal(INTERRUPT_SIGNAL, self._interrupt)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested = True
        if InterruptibleDeathPenalty.active and not self._interrupt_requested:
            self._interrupt_requested = True
            raise ShutdownInterrupt("grace period over: job interrupted and requeued")

    def _classify_failure(self, job: Job, exc_type: type[BaseException], exc: BaseException, tb: Any) -> bool:
        """Permanent failures skip the remaining retries; an interrupted job is requeued instead."""
        if isinstance(exc, ShutdownInterrupt):
            self._requeue_job_id = job.id
            return False
        if isinstance(exc, PermanentError | DeserializationError):
            job.retries_left = 0
        return True

    @property
    def _pops_next_job(self) -> bool:
        """Whether this worker dequeues after a success (a job thread's worker never does) and will."""
        return self._taking_stop_signals and not self._stop_requested

    def lease_lost(self, job: Job) -> bool:
        """Whether this attempt's entry left the started registry while it ran: its lease expired (a slot
        frozen by SIGSTOP or a long pause) and a sweep gave the job to another attempt. Renewals never
        re-add it, so the entry being gone is final; an entry still there, even past its expiry, is
        extended in the same step, so no sweep takes the job while the outcome is written."""
        if self.execution is None:
            return False
        return not self._lease.keep(job, self.execution)

    def _give_up_attempt(self, job: Job, outcome: Literal["succeeded", "failed"]) -> None:
        """A lost attempt's outcome is stale: writing it would mark the recovered attempt finished, or
        schedule one more retry of a job that has already run again. Only this slot's own state is reset."""
        log.warning(
            "job %s %s after its lease expired and it was recovered elsewhere: outcome discarded",
            job.id,
            outcome,
        )
        with self.connection.pipeline() as pipeline:
            self.cleanup_execution(job, pipeline=pipeline)
            pipeline.execute()

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any) -> None:
        """RQ's success bookkeeping in one round trip, sent only while this attempt holds the job's lease
        (:meth:`LeaseKeeper.write_if_held`). RQ first WATCHes and reads the set of jobs that depend on this
        one (two more round trips) to enqueue them; a fraiday job has none, since the task client never
        passes ``depends_on`` and a job that is not fraiday's is refused unrun. A repeating job (also never
        fraiday's) keeps RQ's own path. The next job is popped and loaded in the same step
        (:mod:`fraiday_cli.worker.next_job`), with the paused set the next dequeue reads."""
        if job.repeats_left:
            if self.lease_lost(job):
                self._give_up_attempt(job, "succeeded")
                return
            super().handle_job_success(job, queue, started_job_registry)
            return
        execution = self.execution
        if execution is None:  # a job this slot never started: nothing of its to write
            return
        assert job.started_at is not None and job.ended_at is not None  # set by perform_job
        result_ttl = job.get_result_ttl(self.default_result_ttl)
        with self.connection.pipeline(transaction=False) as pipeline:  # queued only: sent if the lease holds
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            if result_ttl != 0:
                job._handle_success(
                    result_ttl,
                    pipeline=pipeline,
                    worker_name=self.name,
                    execution_id=execution.id,
                    execution_started_at=execution.created_at,
                    execution_ended_at=job.ended_at,
                )
            job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline)
            pop_from = self._draw(list(self.queues)) if self._pops_next_job else []
            pop = pop_args(pop_from) if pop_from else []
            try:
                written = self._lease.write_if_held(job, execution, packed_writes(pipeline), pop)
            except redis.ResponseError:
                # A write refused (a planted key) after the others ran, the lease's end among them: the
                # failure path reads the lease with this execution, finds it ended and keeps the success.
                self.execution = execution
                raise
        if pop_from:
            self._paused_after_job, self._next_job = popped(written.next_job, pop_from)
        if written.replies is None:
            self.execution = execution  # the queued cleanup dropped it; the give-up's cleanup needs it
            self._give_up_attempt(job, "succeeded")

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ""
    ) -> None:
        exc_string = self.policy.redactor.traceback(exc_string)
        if self.lease_lost(job):
            self._requeue_job_id = None
            self._give_up_attempt(job, "failed")
            return
        if self._requeue_job_id != job.id:
            super().handle_job_failure(job, queue, started_job_registry, exc_string)
            return
        self._requeue_job_id = None
        self.log.warning("job %s interrupted by shutdown, putting it back on %s", job.id, queue.name)
        with self.connection.pipeline() as pipeline:
            self.cleanup_execution(job, pipeline=pipeline)
            job.set_status(JobStatus.QUEUED, pipeline=pipeline)
            pipeline.execute()
        queue.enqueue_job(job, at_front=True)
