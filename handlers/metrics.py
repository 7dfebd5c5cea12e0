"""The Prometheus metrics of tasks, handlers and their services, under names dashboards and alerts rely on.

The server's request metrics and the bridges' message counts live with their users
(``fraiday_cli.server.metrics``, ``fraiday_cli.celery_bridge.bridge``, ``fraiday_cli.asynq_bridge.bridge``).

Every metric has labels, so no value exists until first use: by then ``fraiday server`` and ``fraiday
worker`` have switched prometheus-client to multiprocess mode (see ``fraiday_cli.observability``), and
the values of all forked slots and gunicorn workers add up in the exposition.
"""

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

TASKS = Counter(
    "fraiday_tasks",
    "Task attempts by outcome: succeeded, failed (for good) or retried.",
    ["task_type", "queue", "outcome"],
)
TASK_DURATION = Histogram(
    "fraiday_task_duration_seconds",
    "Time a task attempt took.",
    ["task_type", "queue"],
    buckets=LATENCY_BUCKETS,
)
POISON_JOBS = Counter(
    "fraiday_poison_jobs",
    "Jobs refused unrun because they are not fraiday's JSON jobs, by reason: function, data, meta, "
    "origin or unreadable. Anything above zero means someone wrote to Redis who should not have.",
    ["queue", "reason"],
)
AI_REQUEST_DURATION = Histogram(
    "fraiday_ai_request_duration_seconds",
    "AI service calls by call (reply, suggestion, sync) and status (HTTP status, timeout or error).",
    ["call", "status"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "fraiday_webhook_deliveries", "Webhook delivery attempts by outcome.", ["event_type", "outcome"]
)
WEBHOOK_DELIVERY_DURATION = Histogram(
    "fraiday_webhook_delivery_duration_seconds", "Time a webhook delivery attempt took.", ["event_type"]
)
MONGO_OPERATION_DURATION = Histogram(
    "fraiday_mongo_operation_duration_seconds",
    "MongoDB commands by name and collection.",
    ["operation", "collection"],
)
SIDE_READ_DURATION = Histogram(
    "fraiday_side_read_duration_seconds",
    "MongoDB commands of the reads a job makes while it waits on a slower call of its own (the AI's), by "
    "read: time that overlapped the job's instead of adding to it.",
    ["read"],
    buckets=LATENCY_BUCKETS,
)
