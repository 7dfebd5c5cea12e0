"""fraiday's RQ queue: RQ's own, except that a scheduled time is never rounded down.

RQ's scheduled registry keeps whole seconds and truncates (``calendar.timegm``), so a retry due one
second after a failure late in a second fell due at once, and a task delayed by 1.9 s ran after 1 s.
Every scheduled job goes through :meth:`TaskQueue.schedule_job` (the task client's delayed tasks and the
worker's retries after backoff), which rounds up instead: a job may start up to a second late, never early.
"""

import datetime as dt
from typing import Any

import redis
from rq.job import Job
from rq.queue import Queue

from handlers.wire_format import SERIALIZER


def whole_second_after(moment: dt.datetime) -> dt.datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + dt.timedelta(seconds=1)


class TaskQueue(Queue):
    def schedule_job(
        self, job: Job, datetime: dt.datetime, pipeline: Any = None, unique: bool = False
    ) -> Job:
        return super().schedule_job(job, whole_second_after(datetime), pipeline=pipeline, unique=unique)


def queue_for(name: str, connection: redis.Redis) -> TaskQueue:
    return TaskQueue(name, connection=connection, serializer=SERIALIZER)
