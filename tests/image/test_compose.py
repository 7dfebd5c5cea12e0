"""compose.yaml, checked without Docker Hub (which it pulls Redis and MongoDB from, and CI cannot reach):
each fraiday service runs a command the image has, with settings the image accepts, on the read-only
root filesystem the image is tested with, and a worker gets the time to finish its jobs when stopped."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from config import Settings
from fraiday_cli.main import app
from handlers.task_types import REGISTRY

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
FRAIDAY = {name: service for name, service in COMPOSE["services"].items() if service.get("build") == "."}
INTERPOLATION = re.compile(r"\$\{(\w+):-([^}]*)\}")


def environment(service: dict[str, Any]) -> dict[str, str]:
    """As compose passes it with nothing set on the host: ``${VAR:-}`` becomes its default."""
    return {key: INTERPOLATION.sub(r"\2", str(value)) for key, value in service["environment"].items()}


def seconds(duration: str) -> int:
    assert duration.endswith("s"), duration
    return int(duration[:-1])


def test_the_server_and_a_worker_per_queue() -> None:
    commands = sorted(service["command"][0] for service in FRAIDAY.values())
    assert commands == ["server", "worker", "worker", "worker"]
    queues = {
        option.removeprefix("--queue=")
        for service in FRAIDAY.values()
        for option in service["command"]
        if option.startswith("--queue=")
    }
    assert queues == {spec.queue for spec in REGISTRY}


@pytest.mark.parametrize("name", sorted(FRAIDAY))
def test_each_service_runs_a_command_of_the_image(name: str) -> None:
    command = FRAIDAY[name]["command"]
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", sorted(FRAIDAY))
def test_each_service_has_settings_the_image_accepts(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in environment(FRAIDAY[name]).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.mongodb_uri.get_secret_value().startswith("mongodb://mongodb:27017/")
    assert FRAIDAY[name]["read_only"] is True
    assert FRAIDAY[name]["tmpfs"] == ["/tmp"]


def test_a_stopped_worker_has_its_grace_period_and_time_to_requeue(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in environment(FRAIDAY["worker-events"]).items():
        monkeypatch.setenv(key, value)
    grace = Settings().worker_grace_seconds
    for service in FRAIDAY.values():
        assert seconds(service["stop_grace_period"]) >= grace + 5
