"""The Helm chart: lint, render, validate against the Kubernetes schemas, and check what it renders."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.charts.chart import (
    CHART,
    CUSTOM_KINDS,
    KUBERNETES_VERSION,
    container,
    env_of,
    helm,
    of_kind,
    render,
    validate,
)


def test_helm_lint_passes() -> None:
    result = helm("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr


def test_defaults_render_one_server_and_three_workers_that_validate(tmp_path: Path) -> None:
    objects = render(tmp_path)
    for obj in objects:
        if obj["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == {
        "rel-fraiday-server",
        "rel-fraiday-chat-workflow-worker",
        "rel-fraiday-event-processor-worker",
        "rel-fraiday-semantic-layer-worker",
    }
    args = {name: container(d).get("args") for name, d in deployments.items()}
    assert args == {
        "rel-fraiday-server": None,
        "rel-fraiday-chat-workflow-worker": ["worker", "--queue=chat_workflow", "--concurrency=2"],
        "rel-fraiday-event-processor-worker": ["worker", "--queue=events", "--concurrency=2"],
        "rel-fraiday-semantic-layer-worker": ["worker", "--queue=semantic_layer", "--concurrency=1"],
    }
    assert "command" not in container(deployments["rel-fraiday-server"])
    selectors = [tuple(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in deployments.values()]
    assert len(set(selectors)) == 4, "selectors must not overlap"
    assert all(
        "app.kubernetes.io/component" in d["spec"]["selector"]["matchLabels"] for d in deployments.values()
    )


def test_probes_ports_security_and_resources(tmp_path: Path) -> None:
    deployments = of_kind(render(tmp_path), "Deployment")
    server = container(deployments["rel-fraiday-server"])
    assert server["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert server["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    assert server["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert server["startupProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    limits = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}}
    for name, deployment in deployments.items():
        spec = deployment["spec"]["template"]["spec"]
        main = container(deployment)
        assert main["resources"] == limits, name
        assert main["securityContext"] == {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, name
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["imagePullSecrets"] == [{"name": "acr-auth"}]
        assert main["image"] == "fraiday.azurecr.io/api-service:0.1.0"
        assert main["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        if name != "rel-fraiday-server":
            assert main["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
            assert main["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
            assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
            assert spec["terminationGracePeriodSeconds"] == 25 + 10
            env = {e["name"]: e["value"] for e in main["env"]}
            assert env["FRAIDAY_WORKER_GRACE_SECONDS"] == "25"


def test_a_fourth_worker_beside_the_defaults_is_a_fourth_default_entry(tmp_path: Path) -> None:
    values = {
        "defaultWorkers": {
            "bulkEvents": {"queues": ["events", "semantic_layer"], "concurrency": 4, "replicaCount": 3}
        }
    }
    deployments = of_kind(render(tmp_path, values), "Deployment")
    assert len(deployments) == 5
    bulk = deployments["rel-fraiday-bulk-events-worker"]
    assert container(bulk)["args"] == [
        "worker",
        "--queue=events",
        "--queue=semantic_layer",
        "--concurrency=4",
    ]
    assert bulk["spec"]["replicas"] == 3


def test_a_worker_with_threads_passes_them_and_one_without_does_not(tmp_path: Path) -> None:
    values = {"defaultWorkers": {"chatWorkflow": {"concurrency": 2, "threads": 25}}}
    deployments = of_kind(render(tmp_path, values), "Deployment")
    assert container(deployments["rel-fraiday-chat-workflow-worker"])["args"] == [
        "worker",
        "--queue=chat_workflow",
        "--concurrency=2",
        "--threads=25",
    ]
    assert "--threads" not in " ".join(container(deployments["rel-fraiday-event-processor-worker"])["args"])


TOGGLES: list[tuple[dict[str, Any], str, Callable[[dict[str, Any]], bool]]] = [
    ({"server": {"autoscaling": {"enabled": True}}}, "HorizontalPodAutoscaler", lambda o: True),
    (
        {"workerDefaults": {"keda": {"enabled": True}}},
        "ScaledObject",
        lambda o: o["spec"]["triggers"][0]["metadata"]["listName"].startswith("rq:queue:"),
    ),
    ({"metrics": {"serviceMonitor": {"enabled": True}}}, "ServiceMonitor", lambda o: True),
    (
        {"networkPolicy": {"enabled": True}},
        "NetworkPolicy",
        lambda o: o["spec"]["policyTypes"] == ["Ingress", "Egress"],
    ),
    ({"server": {"podDisruptionBudget": {"enabled": True}}}, "PodDisruptionBudget", lambda o: True),
    (
        {"secret": {"create": True, "values": {"MONGODB_URI": "mongodb://m/x"}}},
        "Secret",
        lambda o: o["stringData"] == {"MONGODB_URI": "mongodb://m/x"},
    ),
    (
        {"scheduler": {"enabled": True}},
        "Deployment",
        lambda o: o["metadata"]["name"] == "rel-fraiday-scheduler",
    ),
    (
        {"celeryBridge": {"enabled": True}},
        "Deployment",
        lambda o: (
            container(o)["args"]
            == ["celery-bridge", "--queue=chat_workflow", "--queue=events", "--queue=semantic_layer"]
        ),
    ),
    (
        {"asynqBridge": {"enabled": True}},
        "Deployment",
        lambda o: container(o)["args"] == ["asynq-bridge"] and o["spec"]["replicas"] == 1,
    ),
]


@pytest.mark.parametrize(("values", "kind", "check"), TOGGLES, ids=[next(iter(t[0])) for t in TOGGLES])
def test_each_optional_feature_renders_only_when_enabled(
    tmp_path: Path, values: dict[str, Any], kind: str, check: Callable[[dict[str, Any]], bool]
) -> None:
    before = of_kind(render(tmp_path), kind)
    after = of_kind(render(tmp_path, values), kind)
    added = [obj for name, obj in after.items() if name not in before]
    assert added, f"{kind} not rendered by {values}"
    assert all(check(obj) for obj in added)
    for obj in added:
        if obj["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_keda_replaces_the_fixed_replica_count(tmp_path: Path) -> None:
    objects = render(tmp_path, {"defaultWorkers": {"eventProcessor": {"keda": {"enabled": True}}}})
    assert "replicas" not in of_kind(objects, "Deployment")["rel-fraiday-event-processor-worker"]["spec"]
    assert set(of_kind(objects, "ScaledObject")) == {"rel-fraiday-event-processor-worker"}


@pytest.mark.parametrize(
    "values",
    [
        {"workers": {"events": {"concurrency": "two"}}},
        {"workers": {"events": {"queues": ["events"], "threads": 0}}},
        {"workers": {"events": {"queues": ["events"], "threads": 101}}},
        {"server": {"replicaCount": "1"}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"workers": {"events": {"queues": []}}},
        {"sever": {}},
    ],
)
def test_wrong_values_fail_at_render_time(tmp_path: Path, values: dict[str, Any]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    result = helm("template", "rel", str(CHART), "--values", str(path))
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr


def test_the_asynq_bridge_drains_the_named_queues_with_the_go_type_names(tmp_path: Path) -> None:
    values = {
        "asynqBridge": {
            "enabled": True,
            "queues": ["chat_workflow", "events", "default"],
            "types": {"event:process": "event_processor", "chat:workflow": "chat_workflow"},
        }
    }
    objects = render(tmp_path, values)
    validate(objects)
    bridge = of_kind(objects, "Deployment")["rel-fraiday-asynq-bridge"]
    assert container(bridge)["args"] == [
        "asynq-bridge",
        "--queue=chat_workflow",
        "--queue=events",
        "--queue=default",
        "--types=chat:workflow=chat_workflow,event:process=event_processor",
    ]
    assert "FRAIDAY_TASK_QUEUES" in env_of(container(bridge))
