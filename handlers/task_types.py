"""The four task types of the seed, their queues and policies: the table every process reads.

| task type | legacy Celery name | queue |
|---|---|---|
| chat:workflow | send_chat_workflow | chat_workflow |
| suggestion:workflow | send_suggestion_workflow | chat_workflow |
| event:process | process_event | events |
| semantic_layer:sync | trigger_sync_job | semantic_layer |
"""

from handlers.chat import chat_workflow, suggestion_workflow
from handlers.events import process_event
from handlers.payloads import (
    ChatWorkflowPayload,
    EventProcessorPayload,
    SemanticLayerSyncPayload,
    SuggestionWorkflowPayload,
)
from handlers.registry import Registry, TaskSpec
from handlers.retry import RetryPolicy
from handlers.semantic_layer import SYNC_TIMEOUT_SECONDS, semantic_layer_sync

WORKFLOW_RETRY = RetryPolicy(max_attempts=5, backoff_seconds=2.0, max_backoff_seconds=120.0)
EVENT_RETRY = RetryPolicy(max_attempts=5, backoff_seconds=5.0, max_backoff_seconds=600.0)
SYNC_RETRY = RetryPolicy(max_attempts=3, backoff_seconds=30.0, max_backoff_seconds=600.0)

REGISTRY = Registry(
    [
        TaskSpec(
            name="chat:workflow",
            legacy_name="send_chat_workflow",
            queue="chat_workflow",
            payload_model=ChatWorkflowPayload,
            handler=chat_workflow,
            needs_ai_service=True,
            retry=WORKFLOW_RETRY,
            timeout_seconds=120,
        ),
        TaskSpec(
            name="suggestion:workflow",
            legacy_name="send_suggestion_workflow",
            queue="chat_workflow",
            payload_model=SuggestionWorkflowPayload,
            handler=suggestion_workflow,
            needs_ai_service=True,
            retry=WORKFLOW_RETRY,
            timeout_seconds=120,
        ),
        TaskSpec(
            name="event:process",
            legacy_name="process_event",
            queue="events",
            payload_model=EventProcessorPayload,
            handler=process_event,
            retry=EVENT_RETRY,
            timeout_seconds=60,
        ),
        TaskSpec(
            name="semantic_layer:sync",
            legacy_name="trigger_sync_job",
            queue="semantic_layer",
            payload_model=SemanticLayerSyncPayload,
            handler=semantic_layer_sync,
            needs_ai_service=True,
            retry=SYNC_RETRY,
            timeout_seconds=SYNC_TIMEOUT_SECONDS,
            unique_fields=("client_id", "sync_type"),
        ),
    ]
)
