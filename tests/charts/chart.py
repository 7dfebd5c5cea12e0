"""Rendering the Helm chart in tests: helm itself, and the Kubernetes schemas to validate against."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "fraiday"
KUBERNETES_VERSION = "1.30.0"
CUSTOM_KINDS = {"ScaledObject", "ServiceMonitor"}  # CRDs: not in the Kubernetes schemas


def helm_binary() -> str:
    found = shutil.which("helm") or str(Path.home() / ".cache/fraiday/bin/helm")
    if not os.access(found, os.X_OK):
        pytest.fail(
            "helm is not installed: run ./scripts/setup.sh (it builds helm with `go install`)", pytrace=False
        )
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False)


def render(tmp_path: Path, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    args = ["template", "rel", str(CHART), "--kube-version", KUBERNETES_VERSION]
    if values is not None:
        path = tmp_path / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        args += ["--values", str(path)]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    (only,) = containers
    return only


def render_text(tmp_path: Path, text: str) -> list[dict[str, Any]]:
    """Render with a values file written exactly as given (comments, quoting and blank lines kept)."""
    path = tmp_path / "values.yaml"
    path.write_text(text)
    result = helm("template", "rel", str(CHART), "--kube-version", KUBERNETES_VERSION, "--values", str(path))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def refusal(tmp_path: Path, values: dict[str, Any]) -> str:
    """Render values the chart must refuse; return helm's error."""
    path = tmp_path / "refused.yaml"
    path.write_text(yaml.safe_dump(values))
    result = helm("template", "rel", str(CHART), "--kube-version", KUBERNETES_VERSION, "--values", str(path))
    assert result.returncode != 0, f"rendered although it should refuse: {values}"
    return result.stderr


def validate(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def env_of(container_spec: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container_spec.get("env", [])}
