"""Every place fraiday relies on RQ's or gunicorn's internals, checked by name (both are pinned in
pyproject.toml). An upgrade that renames or reshapes one of these hooks fails here, naming the hook,
instead of jobs silently waiting, running twice, or losing their weighting and pausing.

The inventory of what fraiday overrides or reads:

RQ worker (fraiday_cli/worker/slot.py, ``SlotWorker(SimpleWorker)``): ``_ordered_queues`` (a property
over the attribute RQ's dequeue reads: weighting and pausing), ``dequeue_job_and_maintain_ttl``,
``start_job`` and ``prepare_job_execution`` (RQ's two start-of-job transactions written as one, sent by
the start claim's script), ``handle_job_success`` (RQ's success transaction without its dependents check,
calls ``job._handle_success``; sent by the lease check's script), ``cleanup_execution``
(adds the worker's state to every outcome's transaction), ``run_maintenance_tasks`` (with
``last_cleaned_at``), ``reorder_queues``,
``get_heartbeat_ttl``, ``heartbeat``, ``set_state`` (reads ``_state``), ``handle_execution_ended``,
``execute_job`` (RQ's ``SimpleWorker.execute_job`` plus a lease), ``_install_signal_handlers`` (sets
``_stop_requested``), ``handle_job_failure`` (calls ``cleanup_execution``), ``check_for_suspension``
(read at most once a second), ``push_exc_handler``, ``max_connection_wait_time``, ``queue_class``,
``job_class``, ``death_penalty_class``: ``InterruptibleDeathPenalty(UnixSignalDeathPenalty)``
(``setup_death_penalty``/``cancel_death_penalty``, which RQ's ``__enter__``/``__exit__`` call).
RQ job (fraiday_cli/worker/slot_job.py, ``SlotJob(Job)``): ``perform`` (RQ's, without its PERSIST; uses
``rq.job._job_stack``) and ``refresh`` (RQ's, with the paused set in the same round trip).
RQ's job hash fields ``*_callback_name`` (handlers/wire_format.py refuses a job that names one).
RQ queue (fraiday_cli/tasks/task_queue.py, ``TaskQueue(Queue)``): ``schedule_job`` (retries and delayed
tasks pass through it).
RQ worker with job threads (fraiday_cli/worker/job_threads.py, ``ThreadedSlotWorker(SlotWorker)``):
``dequeue_job_and_maintain_ttl`` (waits for a free thread first), ``execute_job`` (hands the job over),
``teardown`` (called in ``work``'s ``finally``: waits for the threads), ``_shutdown`` raising
``StopRequested`` for a worker that is not BUSY; ``JobThreadWorker(SlotWorker)`` built with
``prepare_for_work=False``; ``ThreadDeathPenalty(BaseDeathPenalty)`` (fraiday_cli/worker/thread_timeouts.py)
entered by ``perform_job`` around ``job.perform()``.
RQ pool (fraiday_cli/worker/pool.py, ``SlotPool(WorkerPool)``): ``check_workers``,
``get_worker_process`` (rebuilds the client with ``rq.connections.parse_connection``),
``request_stop`` (the pool's SIGINT and SIGTERM handler), ``all_workers_have_stopped`` (reads
``worker_dict``; the stopping loop's check), ``_install_signal_handlers``, ``start_worker``; reads
``status``.
RQ storage: key prefixes, the started registry's entries, executions, the scheduler lock.
gunicorn (fraiday_cli/server): ``Logger.setup``/``access``, ``Arbiter.handle_int`` (found by the
signal's name)/``handle_term``,
``BaseApplication.load_config``/``load``, ``util.write_error`` (replaced) and the errors it parses.
"""

import ast
import inspect
import signal
import textwrap
from collections.abc import Callable
from typing import Any

import gunicorn
import gunicorn.http.errors
import pytest
import redis
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.workers.base import Worker
from rq import executions
from rq.connections import parse_connection
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.timeouts import BaseDeathPenalty, UnixSignalDeathPenalty
from rq.version import VERSION
from rq.worker import BaseWorker, SimpleWorker
from rq.worker_pool import WorkerPool

from fraiday_cli.server.gunicorn_app import DrainingArbiter, FraidayGunicorn, JsonAccessLogger
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.task_queue import TaskQueue, queue_for
from fraiday_cli.worker.job_threads import JobThreadWorker, ThreadedSlotWorker
from fraiday_cli.worker.pool import SlotPool
from fraiday_cli.worker.recovery import EXECUTION_KEY
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from fraiday_cli.worker.slot_job import SlotJob
from fraiday_cli.worker.slot_signals import InterruptibleDeathPenalty
from fraiday_cli.worker.thread_timeouts import ThreadDeathPenalty
from handlers.wire_format import CALLBACK_FIELDS, JOB_KEY_PREFIX, SERIALIZER
from tests.support.tasks import REGISTRY

# Methods fraiday's subclasses add that the library does not have: anything else they define must
# override a library method of the same parameters. A hook the library renames lands here as a
# "new" method of ours, which this list refuses.
OWN_METHODS: dict[type, set[str]] = {
    SlotWorker: {
        "_interrupt",
        "_classify_failure",
        "lease_lost",
        "_give_up_attempt",
        "start_job",
        "_draw",
        "_pops_next_job",
        "_take_next_job",
        "_put_back_next_job",
        "_stop_if_requested",
        "_wait_for_job",
        "_put_back",
    },
    SlotPool: {"_maintenance_connection", "_signal_all", "slot_ttl", "slots", "run", "_note_early_stop"},
    InterruptibleDeathPenalty: set(),
    TaskQueue: set(),
    SlotJob: set(),
    ThreadedSlotWorker: {"_interrupt"},
    JobThreadWorker: set(),
    ThreadDeathPenalty: {"strike", "_leave"},
    JsonAccessLogger: set(),
    DrainingArbiter: set(),
    FraidayGunicorn: set(),
}
# Instance attributes RQ sets in __init__ that fraiday replaces with a property (checked below).
REPLACED_ATTRIBUTES: dict[type, set[str]] = {SlotWorker: {"_ordered_queues"}}
LIBRARY_BASE = {
    SlotWorker: SimpleWorker,
    SlotPool: WorkerPool,
    InterruptibleDeathPenalty: UnixSignalDeathPenalty,
    TaskQueue: Queue,
    SlotJob: Job,
    ThreadedSlotWorker: SimpleWorker,
    JobThreadWorker: SimpleWorker,
    ThreadDeathPenalty: BaseDeathPenalty,
    JsonAccessLogger: Logger,
    DrainingArbiter: Arbiter,
    FraidayGunicorn: BaseApplication,
}


def test_the_pins_are_the_versions_these_hooks_were_written_for() -> None:
    assert VERSION.startswith("2.12."), f"RQ {VERSION}: re-check every test in this module, then move the pin"
    assert gunicorn.__version__.startswith("27."), (
        f"gunicorn {gunicorn.__version__}: re-check every test in this module, then move the pin"
    )
    assert redis.__version__.startswith("7."), (
        f"redis-py {redis.__version__}: pinned below 8 for its per-command cost (pyproject.toml); "
        "compare python -m bench.slot_profile on both before moving the pin"
    )


def own_methods(cls: type) -> dict[str, Callable[..., Any]]:
    found = {}
    for name, value in vars(cls).items():
        function = value.fget if isinstance(value, property) else value
        if callable(function) and not (name.startswith("__") and name != "__init__"):
            found[name] = function
    return found


def parameters(function: Callable[..., Any]) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name not in ("args", "kwargs")]


@pytest.mark.parametrize("cls", list(LIBRARY_BASE), ids=lambda cls: cls.__name__)
def test_every_override_matches_a_library_method_of_the_same_parameters(cls: type) -> None:
    base = LIBRARY_BASE[cls]
    for name, function in own_methods(cls).items():
        if name in OWN_METHODS[cls] | REPLACED_ATTRIBUTES.get(cls, set()) or name == "__init__":
            continue
        assert hasattr(base, name), (
            f"{base.__qualname__}.{name} is gone: {cls.__name__}.{name} overrides nothing"
        )
        library = getattr(base, name)
        if isinstance(library, property):
            continue
        assert parameters(function) == parameters(library), (
            f"{base.__qualname__}.{name} changed its parameters: {parameters(library)}"
        )
    missing = OWN_METHODS[cls] - set(own_methods(cls))
    assert not missing, f"listed as {cls.__name__}'s own but not defined: {missing}"


@pytest.mark.parametrize(
    ("caller", "hooks"),
    [
        (BaseWorker.__init__, ["self._ordered_queues = self.queues[:]"]),
        (BaseWorker.work, ["self._install_signal_handlers()", "self.run_maintenance_tasks()"]),
        (BaseWorker.work, ["self.dequeue_job_and_maintain_ttl(", "self.execute_job("]),
        (BaseWorker.work, ["self.check_for_suspension(burst)"]),
        (BaseWorker.dequeue_job_and_maintain_ttl, ["self._ordered_queues", "self.max_connection_wait_time"]),
        (BaseWorker.dequeue_job_and_maintain_ttl, ["idle_time_left <= 0"]),
        (
            BaseWorker.dequeue_job_and_maintain_ttl,  # at once, before RQ's heartbeat (SlotWorker._shutdown)
            ["job, queue = result\n                    self.reorder_queues("],
        ),
        (BaseWorker.perform_job, ["self.prepare_job_execution(job, remove_from_intermediate_queue)"]),
        (
            BaseWorker.perform_job,
            ["with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id)"],
        ),
        (BaseWorker.work, ["finally:\n            self.teardown()"]),
        (BaseWorker._shutdown, ["if self.get_state() == WorkerStatus.BUSY:", "raise StopRequested()"]),
        (BaseWorker.request_stop, ["self._shutdown()"]),
        (BaseWorker.__init__, ["if prepare_for_work:", "self._set_ip_address(connection)"]),
        (BaseDeathPenalty.__enter__, ["self.setup_death_penalty()"]),
        (BaseDeathPenalty.__exit__, ["self.cancel_death_penalty()"]),
        (BaseWorker.perform_job, ["self.handle_execution_ended(job, queue, job.success_callback_timeout)"]),
        (BaseWorker.perform_job, ["self.handle_execution_ended(job, queue, job.failure_callback_timeout)"]),
        (SimpleWorker.execute_job, ["self.prepare_execution(job)", "self.perform_job(job, queue)"]),
        (Queue.dequeue_any, ["e.job_id = job_id", "cls.lmove(", "cls.lpop("]),
        (BaseWorker.__init__, ["self.queue_class("]),
        (Job.retry, ["queue.schedule_job(self, scheduled_datetime, pipeline=pipeline)"]),
        (RQScheduler.acquire_locks, ["self.get_locking_key(name)"]),
        (WorkerPool.start, ["self._install_signal_handlers()", "self.check_workers("]),
        (WorkerPool.start_worker, ["self.get_worker_process("]),
        (WorkerPool.start, ["if self.all_workers_have_stopped():"]),
        (
            WorkerPool._install_signal_handlers,
            [
                "signal.signal(signal.SIGINT, self.request_stop)",
                "signal.signal(signal.SIGTERM, self.request_stop)",
            ],
        ),
        (BaseApplication.do_load_config, ["self.load_config()"]),
        (BaseApplication.wsgi, ["self.callable = self.load()"]),
        (Arbiter.run, ['getattr(self, "handle_%s" % signame, None)']),
        (Worker.handle_error, ["util.write_error("]),
        (Arbiter.handle_term, ["raise StopIteration"]),
    ],
    ids=lambda value: getattr(value, "__qualname__", None),
)
def test_the_library_still_calls_the_hooks_fraiday_overrides(
    caller: Callable[..., Any], hooks: list[str]
) -> None:
    source = inspect.getsource(caller)
    for hook in hooks:
        assert hook in source, f"{caller.__qualname__} no longer uses {hook!r}"


def test_execute_job_is_simple_workers_with_a_lease_around_perform_job() -> None:
    """fraiday's ``execute_job`` repeats RQ's three lines; a fourth there would be skipped silently."""
    body = [line.strip() for line in inspect.getsource(SimpleWorker.execute_job).splitlines()[1:]]
    assert [line for line in body if line and not line.startswith(("#", '"""'))] == [
        "self.prepare_execution(job)",
        "self.perform_job(job, queue)",
        "self.set_state(WorkerStatus.IDLE)",
    ]


def pipeline_writes(function: Callable[..., Any]) -> list[str]:
    """What ``function`` sends through its ``pipeline``, in source order: each call that is given the
    pipeline or is made on it, named as written (``self.heartbeat``, ``pipeline.lrem``)."""
    calls = []
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))):
        if not isinstance(node, ast.Call):
            continue
        given = any(
            isinstance(value, ast.Name) and value.id == "pipeline"
            for value in [*node.args, *(keyword.value for keyword in node.keywords)]
        )
        made_on = isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) == "pipeline"
        if given or made_on:
            calls.append((node.lineno, node.col_offset, ast.unparse(node.func)))
    return [name for *_, name in sorted(calls)]


def test_a_slot_starts_a_job_with_rqs_own_writes_in_one_transaction() -> None:
    """``SlotWorker.start_job`` writes what RQ's two start-of-job transactions write, plus the
    attempt counter: a write RQ adds to either must be added there too."""
    rq_first = pipeline_writes(executions.prepare_execution)
    rq_second = pipeline_writes(BaseWorker.prepare_job_execution)
    assert rq_first == ["Execution.create", "worker.set_state", "pipeline.execute"]
    assert rq_second == [
        "self.set_current_job_id",
        "self.set_current_job_working_time",
        "self.heartbeat",
        "job.heartbeat",
        "job.prepare_for_execution",
        "pipeline.lrem",
        "pipeline.execute",
    ]
    rq_first_as_worker = [name.replace("worker.", "self.") for name in rq_first[:-1]]
    ours = ["pipeline.persist", "pipeline.hset", "self._lease.extend", "packed_writes"]
    expected = [*rq_first_as_worker, *rq_second[:-1], *ours]
    assert pipeline_writes(SlotWorker.start_job) == expected, "sent by the claim, as one script"
    assert pipeline_writes(SlotWorker.prepare_job_execution) == []
    assert "Execution.create" in inspect.getsource(SlotWorker.start_job)


def body(function: Callable[..., Any]) -> list[str]:
    """A function's statements as written, one per line, without its docstring and comments."""
    code, in_docstring = [], False
    for line in (line.strip() for line in inspect.getsource(function).splitlines()[1:]):
        if line.startswith('"""'):
            in_docstring = not (in_docstring or (line.endswith('"""') and len(line) > 3))
            continue
        if line and not in_docstring and not line.startswith("#"):
            code.append(line)
    return code


def test_a_slots_job_performs_as_rqs_but_for_the_persist_sent_with_its_start() -> None:
    assert body(Job.perform) == ["self.connection.persist(self.key)", *body(SlotJob.perform)]
    assert SlotWorker.job_class is SlotJob


def test_a_slots_job_builds_rqs_registries_once() -> None:
    for name in ("started_job_registry", "finished_job_registry"):  # bodies past decorator, def (and import)
        rqs = getattr(Job, name)
        assert isinstance(rqs, property), f"RQ's Job.{name} is no longer a property"
        assert body(rqs.fget)[2:] == body(getattr(SlotJob, name).func)[1:], f"RQ's Job.{name} changed"


def test_a_slots_job_loads_as_rqs_with_the_paused_set_in_the_same_round_trip() -> None:
    assert body(Job.refresh) == [
        "data = self.connection.hgetall(self.key)",
        "if not data:",
        "raise NoSuchJobError(f'No such job: {self.key}')",
        "self.restore(data)",
    ]
    assert body(SlotJob.refresh)[-3:] == [
        "if not data:",
        'raise NoSuchJobError(f"No such job: {self.key}")',
        "self.restore(data)",
    ]
    assert "job.refresh()" in inspect.getsource(Job.fetch)
    assert "job_cls.fetch(job_id" in inspect.getsource(Queue.dequeue_any)


def test_a_slot_records_a_success_with_rqs_own_writes_but_the_dependents_check() -> None:
    rq_writes = pipeline_writes(BaseWorker.handle_job_success)
    dependents_and_repeats = [
        "pipeline.watch",
        "queue.enqueue_dependents",
        "pipeline.multi",
        "Repeat.schedule",
    ]
    assert rq_writes == [
        "pipeline.watch",
        "queue.enqueue_dependents",
        "pipeline.multi",
        "self.increment_successful_job_count",
        "self.increment_total_working_time",
        "job._handle_success",
        "Repeat.schedule",
        "job.cleanup",
        "self.cleanup_execution",
        "pipeline.execute",
    ]
    ours = [name for name in rq_writes if name not in dependents_and_repeats]
    # ... sent if the lease holds, in the script that also pops the next job.
    assert pipeline_writes(SlotWorker.handle_job_success) == [*ours[:-1], "packed_writes"]
    assert "self.handle_job_success(job=job, queue=queue, started_job_registry=started_job_registry)" in (
        inspect.getsource(BaseWorker.perform_job)
    )


def test_rqs_work_loop_ends_in_teardown_and_checks_suspension_before_each_dequeue() -> None:
    """A slot holds the job it popped with a success until its next dequeue (fraiday_cli.worker.next_job):
    it hands it back in ``teardown``, which RQ's loop must reach on every exit, and before a suspension,
    which RQ's loop checks before each dequeue."""
    work = inspect.getsource(BaseWorker.work)
    loop = work[work.index("while True:") :]
    assert loop.index("self.check_for_suspension(burst)") < loop.index("self.dequeue_job_and_maintain_ttl(")
    assert "finally:\n            self.teardown()" in work


def test_every_outcome_of_a_job_cleans_up_its_execution_in_its_own_transaction() -> None:
    """The slot's state goes back to idle in ``cleanup_execution``: every outcome must call it."""
    for outcome in (
        BaseWorker.handle_job_failure,
        BaseWorker.handle_job_retry,
        SlotWorker.handle_job_success,
    ):
        assert "self.cleanup_execution" in pipeline_writes(outcome), outcome.__qualname__


def test_the_pool_rebuilds_clients_from_rqs_connection_parser() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, db=3)
    connection_class, pool_class, kwargs = parse_connection(client)
    assert (connection_class, pool_class) == (redis.Redis, redis.Connection)
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 1, 3)


def test_gunicorns_error_writer_and_parse_errors_keep_their_names() -> None:
    assert list(inspect.signature(util.write_error).parameters) == ["sock", "status_int", "reason", "mesg"]
    assert issubclass(gunicorn.http.errors.NoMoreData, Exception)
    assert issubclass(gunicorn.http.errors.ParseException, Exception)


def test_the_access_logger_keeps_gunicorns_setup() -> None:
    """``JsonAccessLogger.setup`` runs gunicorn's own, then hands the lines to the root logger."""
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = JsonAccessLogger(cfg)
    assert logger._access_log_enabled is True, "gunicorn 27's setup computes it; ours must run it"
    for log in (logger.error_log, logger.access_log):
        assert log.handlers == [] and log.propagate


def test_a_slot_has_the_attributes_it_reads_from_rq(redis_conn: redis.Redis) -> None:
    worker = SlotWorker(["events"], connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy({}))
    for name in ("_stop_requested", "_state", "last_cleaned_at", "max_connection_wait_time"):
        assert hasattr(worker, name), f"RQ's worker no longer has {name}"


def test_the_pool_has_the_attributes_it_reads_from_rq() -> None:
    pool = WorkerPool(["events"], connection=redis.Redis(), num_workers=1)
    assert pool.worker_dict == {}, "RQ's pool no longer keeps its slots in worker_dict"
    assert pool.status == WorkerPool.Status.IDLE and WorkerPool.Status.STOPPED


def test_gunicorn_hands_sigint_to_handle_int() -> None:
    """``DrainingArbiter.handle_int`` is found by name from the signal's, as ``Arbiter.run`` shows above."""
    assert Arbiter.SIG_NAMES[signal.SIGINT] == "int"


def test_the_started_registry_holds_job_and_execution_with_the_lease_expiry_as_score(
    redis_conn: redis.Redis,
) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:sleep", {"key": "c", "seconds": 1})
    queue = queue_for("events", redis_conn)
    worker = SlotWorker([queue], connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy({}))
    job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)
    assert worker.start_job(job, queue)
    execution = worker.execution
    entry = f"{job.id}:{execution.id}"
    registry = StartedJobRegistry("events", connection=redis_conn)
    assert registry.key == "rq:wip:events" == queue.started_job_registry.key
    assert redis_conn.zscore(registry.key, entry) is not None
    assert isinstance(execution, Execution) and execution.key == EXECUTION_KEY.format(entry=entry)
    assert redis_conn.hget(JOB_KEY_PREFIX + job.id, "status") == b"started"
    assert redis_conn.hget(JOB_KEY_PREFIX + job.id, "retries_left") == b"2"
    assert redis_conn.hget(JOB_KEY_PREFIX + job.id, "origin") == b"events"


def test_queue_and_scheduler_keys_are_rqs_own() -> None:
    queue = Queue("events", connection=redis.Redis())
    assert queue.key == "rq:queue:events"
    assert queue.intermediate_queue_key == "rq:queue:events:intermediate"
    assert RQScheduler.get_locking_key("events") == "rq:scheduler-lock:events"
    assert list(inspect.signature(BaseWorker.dequeue_job_and_maintain_ttl).parameters) == [
        "self",
        "timeout",
        "max_idle_time",
    ]
    assert "with_scheduler" in inspect.signature(BaseWorker.work).parameters


def test_rq_loads_job_callbacks_from_the_hash_fields_poison_refusal_checks(redis_conn: redis.Redis) -> None:
    fields = {name: f"module.{name}" for name in CALLBACK_FIELDS}
    redis_conn.hset("rq:job:callbacks", mapping={"data": "", "origin": "events"})
    for name, value in fields.items():
        redis_conn.hset("rq:job:callbacks", name, value)
    job = Job.fetch("callbacks", connection=redis_conn, serializer=SERIALIZER)
    loaded = (job._success_callback_name, job._failure_callback_name, job._stopped_callback_name)
    assert loaded == tuple(fields.values())
