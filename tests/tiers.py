"""Which tests form the fast ``unit`` tier: those that start no process and no server.

The tier is derived, not hand-kept, so a new test lands in the right tier without anyone
remembering a marker: a test is out when it asks (directly or through other fixtures) for a
fixture that starts a server process, or when its module, or a helper module of ``tests`` it
imports, can spawn a process. ``tests/test_tiers.py`` runs the tier under an audit hook that
fails on any spawn, so a miss here is a red test, not a slow tier.
"""

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

import pytest

# Session fixtures that start a real server process (everything needing Redis or MongoDB goes through them).
SERVER_FIXTURES = frozenset({"redis_server", "mongo_server"})

_SPAWNING_IMPORTS = frozenset({"subprocess", "multiprocessing", "concurrent.futures.process", "pty"})
_SPAWNING_CALLS = frozenset({"fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen"})
_TESTS_ROOT = Path(__file__).resolve().parent
_REPO_ROOT = _TESTS_ROOT.parent


def _module_path(name: str) -> Path | None:
    base = _REPO_ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(tree: ast.Module) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _calls_os_spawn(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr in _SPAWNING_CALLS
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        for node in ast.walk(tree)
    )


@functools.cache
def spawns(path: Path) -> bool:
    """True when the module at ``path``, or a ``tests`` helper it imports, can start a process."""
    tree = ast.parse(path.read_text(), filename=str(path))
    if _calls_os_spawn(tree):
        return True
    for name in _imported_names(tree):
        if name in _SPAWNING_IMPORTS or name.split(".")[0] in _SPAWNING_IMPORTS:
            return True
        if name.startswith("tests.") and name != "tests.conftest" and not name.endswith(".conftest"):
            helper = _module_path(name)
            if helper is not None and helper != path and spawns(helper):
                return True
    return False


def is_unit(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return not fixtures & SERVER_FIXTURES and not spawns(Path(str(item.path)).resolve())


def mark_unit_tier(items: list[pytest.Item]) -> None:
    for item in items:
        if is_unit(item):
            item.add_marker(pytest.mark.unit)
