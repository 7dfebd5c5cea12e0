"""Every name a user of the Go service knows, from its two design documents, is in the README's
"Coming from the Go service" section, so a migrating user finds what each became.

The names are copied from the documents (the migration guide and the deployment refactor), which are
not part of this repository.
"""

import pytest

from tests.readme.markdown import read, section

COMING_FROM_GO = section(read("README.md"), "## Coming from the Go service")

GO_NAMES = {
    "env vars": [
        "AI_SERVICE_URL",
        "SLACK_AI_TOKEN",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_DB",
        "REDIS_PASSWORD",
        "MONGODB_URI",
    ],
    "flags and modes": [
        "--mode=server",
        "--mode=worker",
        "--queue=",
        "--concurrency",
        "api-service server",
        "CMD",
        "./api-service",
    ],
    "queues": ["chat_workflow", "events", "`default`", "semantic_layer"],
    "task types": [
        "TypeChatWorkflow",
        "TypeSuggestionWorkflow",
        "TypeEventProcessor",
        "TypeSemanticLayerSync",
    ],
    "handlers": [
        "HandleChatWorkflow",
        "HandleSuggestionWorkflow",
        "HandleEventProcessor",
        "HandleSemanticLayerSync",
    ],
    "task client": [
        "EnqueueChatWorkflow",
        "EnqueueSuggestionWorkflow",
        "EnqueueEventProcessor",
        "EnqueueSemanticLayerSync",
    ],
    "payloads": ["ChatWorkflowPayload", "EventProcessorPayload", "SemanticLayerSyncPayload"],
    "helm values": [
        "deploy-go.yaml",
        "workers:",
        "chatWorkflow",
        "eventProcessor",
        "semanticLayer",
        "replicaCount",
        "resources",
    ],
    "deployment": [
        "fraiday.azurecr.io/api-service",
        "acr-auth",
        "ClusterIP",
        "8080",
        "/health",
        "/ping",
        "api-service-chat-workflow-worker",
    ],
    "runbook": ["asynq:queues:chat_workflow", "kubectl logs -f deployment/api-service-chat-workflow-worker"],
    "metrics": ["task duration", "queue depth", "AI response times", "webhook success", "database latency"],
    "log fields": ["`ts`", "`level`", "`msg`", "`caller`"],
    "asynq keys": ["asynq:{q}:pending", ":scheduled", ":retry"],
}


@pytest.mark.parametrize("kind", sorted(GO_NAMES))
def test_every_go_name_is_in_coming_from_the_go_service(kind: str) -> None:
    missing = [name for name in GO_NAMES[kind] if name not in COMING_FROM_GO]
    assert not missing, f"{kind} of the Go service the README's table does not mention: {missing}"
