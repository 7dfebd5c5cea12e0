"""What is in the image: the CLI as the entry point, and nothing a running service does not need."""

import json
import tomllib
from pathlib import Path

from tests.image.docker_cli import DockerCli

REPO = Path(__file__).resolve().parents[3]

# Run inside the image as root (to see every directory): what must not be in a lean runtime image. Test
# packages are looked for in every Python of the image, the base's too (the official slim images have none).
INVENTORY = r"""
import importlib.util, json, os, pathlib, shutil
venv = pathlib.Path("/opt/fraiday")
print(json.dumps({
    "build tools on PATH": [t for t in ("gcc", "cc", "c++", "make", "ld", "git") if shutil.which(t)],
    "installers in the venv": [m for m in ("pip", "setuptools", "wheel") if importlib.util.find_spec(m)],
    "test packages": sorted(
        str(p) for root in (venv, *pathlib.Path("/usr/lib").glob("python3*"),
                            *pathlib.Path("/usr/local/lib").glob("python3*"))
        for p in root.rglob("*")
        if p.is_dir() and (p.name in ("tests", "test", "idle_test") or p.match("gevent/testing"))
        and any(p.rglob("*.py"))
    ),
    "caches": sorted(
        str(p) for p in (pathlib.Path("/root/.cache"), pathlib.Path("/tmp/pip-cache"))
        if p.exists() and any(p.iterdir())
    ) + sorted(str(p) for p in pathlib.Path("/var/cache/apt/archives").glob("*.deb"))
      + sorted(str(p) for p in pathlib.Path("/var/lib/apt/lists").glob("*_Packages*")),
    "source tree": [p for p in ("/src", "/opt/fraiday/src") if os.path.exists(p)],
}))
"""


def test_help_and_version(docker: DockerCli, image: str) -> None:
    help_text = docker.run("run", "--rm", "--network=none", image, "--help")
    for command in ("server", "worker", "enqueue", "scheduler"):
        assert command in help_text
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert docker.run("run", "--rm", "--network=none", image, "--version").strip() == f"fraiday {version}"


def test_runs_as_uid_10001_by_default(docker: DockerCli, image: str) -> None:
    assert docker.run("run", "--rm", "--network=none", "--entrypoint=id", image).split()[:2] == [
        "uid=10001(fraiday)",
        "gid=10001(fraiday)",
    ]


def test_holds_no_build_tools_tests_or_caches(docker: DockerCli, image: str) -> None:
    found = json.loads(
        docker.run("run", "--rm", "--network=none", "--user=0", "--entrypoint=python", image, "-c", INVENTORY)
    )
    assert found == {name: [] for name in found}, found
