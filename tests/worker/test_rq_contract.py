"""What fraiday's recovery relies on inside RQ (pinned in pyproject.toml): if an upgrade changes any of
it, these fail by name instead of jobs silently waiting or running twice."""

import inspect

import redis
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.version import VERSION
from rq.worker import BaseWorker
from rq.worker_pool import WorkerPool

from fraiday_cli.tasks.client import TaskClient, queue_for
from fraiday_cli.worker.recovery import EXECUTION_KEY
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers.wire_format import JOB_KEY_PREFIX, SERIALIZER
from tests.support.tasks import REGISTRY


def test_rq_is_the_version_these_hooks_were_written_for() -> None:
    assert VERSION.startswith("2.12."), "re-check every test in this module, then move the pin"


def test_the_started_registry_holds_job_and_execution_with_the_lease_expiry_as_score(
    redis_conn: redis.Redis,
) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:sleep", {"key": "c", "seconds": 1})
    queue = queue_for("events", redis_conn)
    worker = SlotWorker([queue], connection=redis_conn, serializer=SERIALIZER, policy=SlotPolicy({}))
    job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)
    execution = worker.prepare_execution(job)
    job.set_status("started")
    entry = f"{job.id}:{execution.id}"
    registry = StartedJobRegistry("events", connection=redis_conn)
    assert registry.key == "rq:wip:events" == queue.started_job_registry.key
    assert redis_conn.zscore(registry.key, entry) is not None
    assert isinstance(execution, Execution) and execution.key == EXECUTION_KEY.format(entry=entry)
    assert redis_conn.hget(JOB_KEY_PREFIX + job.id, "status") == b"started"
    assert redis_conn.hget(JOB_KEY_PREFIX + job.id, "retries_left") == b"2"
    assert redis_conn.hget(JOB_KEY_PREFIX + job.id, "origin") == b"events"


def test_queue_keys_and_a_single_queue_dequeue_into_the_intermediate_list(redis_conn: redis.Redis) -> None:
    queue = queue_for("events", redis_conn)
    assert queue.key == "rq:queue:events"
    assert queue.intermediate_queue_key == "rq:queue:events:intermediate"
    dequeue = inspect.getsource(Queue.dequeue_any)
    assert "cls.lmove(" in dequeue and "cls.lpop(" in dequeue, "BLMOVE for one queue, BLPOP for several"


def test_the_scheduler_lock_is_the_key_stock_rq_schedulers_take() -> None:
    assert RQScheduler.get_locking_key("events") == "rq:scheduler-lock:events"
    assert "self.get_locking_key(name)" in inspect.getsource(RQScheduler.acquire_locks)


def test_the_worker_hooks_fraiday_overrides_are_called_by_rq() -> None:
    work = inspect.getsource(BaseWorker.work) + inspect.getsource(BaseWorker.dequeue_job_and_maintain_ttl)
    assert "self.run_maintenance_tasks()" in work, "slots skip RQ's maintenance through this hook"
    assert "self.max_connection_wait_time" in inspect.getsource(BaseWorker.dequeue_job_and_maintain_ttl)
    assert "with_scheduler" in inspect.signature(BaseWorker.work).parameters
    assert "self.check_workers(" in inspect.getsource(WorkerPool.start), "maintenance is supervised here"


def test_the_dequeue_hooks_exact_pausing_and_poison_refusal_rely_on() -> None:
    dequeue = inspect.signature(BaseWorker.dequeue_job_and_maintain_ttl)
    assert list(dequeue.parameters) == ["self", "timeout", "max_idle_time"]
    assert "idle_time_left <= 0" in inspect.getsource(BaseWorker.dequeue_job_and_maintain_ttl), (
        "max_idle_time makes RQ return after one wait, so a slot re-reads the paused set"
    )
    prepare = inspect.signature(BaseWorker.prepare_job_execution)
    assert list(prepare.parameters) == ["self", "job", "remove_from_intermediate_queue"]
    assert "self.prepare_job_execution(job, remove_from_intermediate_queue)" in inspect.getsource(
        BaseWorker.perform_job
    )
    assert "e.job_id = job_id" in inspect.getsource(Queue.dequeue_any), "a job RQ cannot load is named"
