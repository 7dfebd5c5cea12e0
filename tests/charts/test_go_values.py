"""The Go service's Helm values render the workers they describe, with every routed queue consumed."""

from pathlib import Path
from typing import Any

import pytest

from handlers.task_types import REGISTRY
from tests.charts.chart import container, env_of, of_kind, refusal, render, render_text, validate

GO_WORKERS_BLOCK = (Path(__file__).parent / "values" / "deploy-go-workers.yaml").read_text()
"""The `workers:` block of deploy-go.yaml, byte for byte from the migration guide (000)."""


def workers(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: d
        for name, d in of_kind(objects, "Deployment").items()
        if d["spec"]["template"]["metadata"]["labels"].get("fraiday.io/role") == "worker"
    }


def consumed_queues(deployment: dict[str, Any]) -> list[str]:
    args: list[str] = container(deployment)["args"]
    return [arg.removeprefix("--queue=") for arg in args if arg.startswith("--queue=")]


def routing(deployment: dict[str, Any]) -> dict[str, str]:
    pairs = env_of(container(deployment))["FRAIDAY_TASK_QUEUES"].split(",")
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_go_workers_block_renders_exactly_its_three_workers(tmp_path: Path) -> None:
    objects = render_text(tmp_path, GO_WORKERS_BLOCK)
    validate(objects)
    rendered = {name: (d["spec"]["replicas"], container(d)["args"]) for name, d in workers(objects).items()}
    assert rendered == {
        "rel-fraiday-chat-workflow-worker": (3, ["worker", "--queue=chat_workflow", "--concurrency=10"]),
        "rel-fraiday-event-processor-worker": (2, ["worker", "--queue=events", "--concurrency=5"]),
        "rel-fraiday-semantic-layer-worker": (1, ["worker", "--queue=default", "--concurrency=3"]),
    }


def test_the_go_workers_consume_every_queue_a_task_is_routed_to(tmp_path: Path) -> None:
    objects = render_text(tmp_path, GO_WORKERS_BLOCK)
    deployments = of_kind(objects, "Deployment")
    routes = {routing(d)["semantic_layer:sync"] for d in deployments.values()}
    assert routes == {"default"}, "every container must route the sync the same way"
    # The routing the processes will run with, applied to the real registry.
    registry = REGISTRY.with_queues(routing(deployments["rel-fraiday-server"]))
    consumed = {q for d in workers(objects).values() for q in consumed_queues(d)}
    assert set(registry.queues) == consumed == {"chat_workflow", "events", "default"}


def test_the_chart_routing_table_is_the_registry(tmp_path: Path) -> None:
    server = of_kind(render(tmp_path), "Deployment")["rel-fraiday-server"]
    assert routing(server) == {spec.name: spec.queue for spec in REGISTRY}


def test_defaults_apply_only_while_workers_is_empty(tmp_path: Path) -> None:
    mine = {"workers": {"all": {"queues": ["chat_workflow", "events", "semantic_layer"], "concurrency": 4}}}
    assert set(workers(render(tmp_path, mine))) == {"rel-fraiday-all-worker"}
    assert set(workers(render(tmp_path))) == {
        "rel-fraiday-chat-workflow-worker",
        "rel-fraiday-event-processor-worker",
        "rel-fraiday-semantic-layer-worker",
    }


def test_task_queues_route_a_type_to_the_queue_the_values_name(tmp_path: Path) -> None:
    values = {
        "workers": {
            "chat": {"queues": ["chat_workflow"]},
            "events": {"queues": ["events"]},
            "bulk": {"queues": ["bulk"]},
        },
        "taskQueues": {"semantic_layer:sync": "bulk"},
    }
    objects = render(tmp_path, values)
    validate(objects)
    assert {routing(d)["semantic_layer:sync"] for d in of_kind(objects, "Deployment").values()} == {"bulk"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"workers": {"chat": {"queues": ["chat_workflow"]}, "events": {"queues": ["events"]}}},
            'task type semantic_layer:sync is routed to queue "semantic_layer", which no worker consumes',
        ),
        (
            {
                "workers": {
                    "chat": {"queues": ["chat_workflow"]},
                    "events": {"queues": ["events", "semantic_layer"]},
                    "spare": {"queues": ["default"]},
                }
            },
            'workers.spare consumes queue "default", to which no task type is routed',
        ),
        ({"taskQueues": {"sync": "default"}}, 'taskQueues: unknown task type "sync"'),
        ({"env": {"FRAIDAY_TASK_QUEUES": "semantic_layer:sync=default"}}, "set taskQueues instead"),
    ],
    ids=["routed-queue-without-worker", "worker-queue-without-task", "unknown-type", "raw-env"],
)
def test_routing_the_chart_cannot_serve_is_refused_naming_the_problem(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    assert message in refusal(tmp_path, values)


def test_the_go_servers_top_level_values_are_refused_by_name_and_work_under_server(tmp_path: Path) -> None:
    """What the README tells a user with the Go service's top-level server values: refused, then moved."""
    server = {"replicaCount": 2, "resources": {"limits": {"cpu": "200m", "memory": "256Mi"}}}
    message = refusal(tmp_path, server)
    assert "Additional property replicaCount is not allowed" in message
    assert "Additional property resources is not allowed" in message
    deployment = of_kind(render(tmp_path, {"server": server}), "Deployment")["rel-fraiday-server"]
    assert deployment["spec"]["replicas"] == 2
    assert container(deployment)["resources"]["limits"] == server["resources"]["limits"]
