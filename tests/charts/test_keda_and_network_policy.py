"""KEDA and the NetworkPolicy follow where Redis, the AI service and each worker's metrics really are."""

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.charts.chart import of_kind, refusal, render, validate

# The parts of KEDA's ScaledObject CRD (keda.sh/v1alpha1) the chart fills in: trigger metadata is a map
# of strings (a number there is refused by the API server), counts are integers.
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"]},
                "minReplicaCount": {"type": "integer"},
                "maxReplicaCount": {"type": "integer"},
                "pollingInterval": {"type": "integer"},
                "cooldownPeriod": {"type": "integer"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
}


def redis_triggers(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each trigger's metadata, after checking the object is a ScaledObject KEDA's redis scaler can use."""
    found = []
    for scaled in of_kind(objects, "ScaledObject").values():
        jsonschema.validate(scaled, SCALED_OBJECT_SCHEMA)
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "redis"
            metadata = trigger["metadata"]
            # The redis scaler needs a host (or the variable holding it) and a port: KEDA does not
            # default either when `host` is used, and cannot read a REDIS_URL.
            assert ("host" in metadata) != ("hostFromEnv" in metadata), metadata
            assert metadata["port"].isdigit(), metadata
            assert "portFromEnv" not in metadata
            found.append(metadata)
    assert found, "no ScaledObject rendered"
    return found


def keda_with(env: dict[str, Any], **keda: Any) -> dict[str, Any]:
    return {"env": env, "workerDefaults": {"keda": {"enabled": True, **keda}}}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"REDIS_HOST": "redis-master", "REDIS_PORT": 6380, "REDIS_DB": 2},
            {"host": "redis-master", "port": "6380", "databaseIndex": "2", "enableTLS": "false"},
        ),
        (
            {"REDIS_HOST": "cache.example.net", "REDIS_TLS": "true"},
            {"host": "cache.example.net", "port": "6379", "databaseIndex": "0", "enableTLS": "true"},
        ),
        (
            {"REDIS_URL": "rediss://cache.example.net:6380/3"},
            {"host": "cache.example.net", "port": "6380", "databaseIndex": "3", "enableTLS": "true"},
        ),
        ({}, {"hostFromEnv": "REDIS_HOST", "port": "6379", "databaseIndex": "0", "enableTLS": "false"}),
    ],
    ids=["host-port-db", "tls", "rediss-url", "host-in-secret"],
)
def test_keda_polls_the_redis_fraiday_is_configured_with(
    tmp_path: Path, env: dict[str, Any], expected: dict[str, str]
) -> None:
    objects = render(tmp_path, keda_with(env))
    validate(objects)
    for metadata in redis_triggers(objects):
        assert {k: v for k, v in metadata.items() if k in expected} == expected
        assert metadata["passwordFromEnv"] == "REDIS_PASSWORD"
        assert metadata["usernameFromEnv"] == "REDIS_USERNAME"
    queues = sorted(m["listName"] for m in redis_triggers(objects))
    assert queues == ["rq:queue:chat_workflow", "rq:queue:events", "rq:queue:semantic_layer"]


def test_keda_values_name_redis_when_the_url_is_in_the_secret(tmp_path: Path) -> None:
    values = keda_with(
        {}, host="redis.internal", port=6390, databaseIndex=1, enableTLS=True, passwordFromEnv=""
    )
    for metadata in redis_triggers(render(tmp_path, values)):
        assert metadata["host"] == "redis.internal"
        assert (metadata["port"], metadata["databaseIndex"], metadata["enableTLS"]) == ("6390", "1", "true")
        assert "passwordFromEnv" not in metadata


def policy(tmp_path: Path, values: dict[str, Any]) -> dict[str, Any]:
    objects = render(
        tmp_path, {**values, "networkPolicy": {"enabled": True, **values.get("networkPolicy", {})}}
    )
    validate(objects)
    (only,) = of_kind(objects, "NetworkPolicy").values()
    return only


def egress_ports(netpol: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in netpol["spec"]["egress"] for p in rule["ports"] if p["protocol"] == "TCP"}


def ingress_ports(netpol: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in netpol["spec"]["ingress"] for p in rule["ports"]}


@pytest.mark.parametrize(
    ("url", "port"),
    [("https://ai.internal:8443", 8443), ("http://ai.internal", 80), ("https://ai.example.com/v2", 443)],
)
def test_egress_allows_the_ai_service_port(tmp_path: Path, url: str, port: int) -> None:
    assert port in egress_ports(policy(tmp_path, {"env": {"AI_SERVICE_URL": url}}))


def test_egress_follows_redis_and_an_explicit_ai_port(tmp_path: Path) -> None:
    netpol = policy(
        tmp_path,
        {"env": {"REDIS_PORT": 6380}, "networkPolicy": {"aiServicePort": 9443, "mongodbPort": 27018}},
    )
    assert egress_ports(netpol) == {53, 6380, 27018, 443, 9443}


def test_ingress_opens_every_worker_metrics_port(tmp_path: Path) -> None:
    values = {"defaultWorkers": {"semanticLayer": {"metricsPort": 9200}}}
    assert ingress_ports(policy(tmp_path, values)) == {8080, 9100, 9200}


@pytest.mark.parametrize(
    ("bridge", "variable"),
    [("asynqBridge", "ASYNQ_REDIS_URL"), ("celeryBridge", "CELERY_BROKER_URL")],
)
def test_egress_reaches_a_bridge_broker_on_another_port(tmp_path: Path, bridge: str, variable: str) -> None:
    """The Go service's (or Celery's) Redis may not be fraiday's: the bridge must still reach it."""
    values = {bridge: {"enabled": True}, "env": {variable: "redis://old-redis.internal:6390/0"}}
    assert egress_ports(policy(tmp_path, values)) == {53, 6379, 27017, 443, 6390}
    # A bridge that is off needs no way out.
    values[bridge]["enabled"] = False
    assert egress_ports(policy(tmp_path, values)) == {53, 6379, 27017, 443}


def test_keda_refuses_a_password_it_cannot_read_from_redis_url(tmp_path: Path) -> None:
    """KEDA's redis scaler reads no URL: a password inside REDIS_URL would leave it unauthenticated."""
    values = keda_with({"REDIS_URL": "redis://:s3cret@redis.internal:6379/0"})
    message = refusal(tmp_path, values)
    assert "KEDA cannot read the password inside env.REDIS_URL" in message
    assert "REDIS_PASSWORD" in message and "s3cret" not in message
    # Without KEDA the same values render: fraiday itself reads the URL.
    render(tmp_path, {"env": values["env"]})
