"""The README's architecture table is the map a newcomer reads first, so it changes with the tree: every
path it names exists, and every package, every module of the three top-level packages and every
top-level folder is named on it."""

import re
from pathlib import Path

from tests.readme.markdown import ROOT, read, section

PACKAGES = ("config", "handlers", "fraiday_cli")
ROW = re.compile(r"^\| (?P<paths>`[^|]+) \| (?P<what>.+) \|$")
NAME = re.compile(r"`([^`]+)`")


def expand(name: str) -> list[str]:
    """``handlers/{chat,events}.py`` -> ``handlers/chat.py``, ``handlers/events.py``."""
    braces = re.fullmatch(r"(?P<head>[^{]*)\{(?P<options>[^}]+)\}(?P<tail>.*)", name)
    if braces is None:
        return [name]
    return [braces["head"] + option + braces["tail"] for option in braces["options"].split(",")]


def named_paths() -> set[str]:
    """Each row's own paths, and the modules and folders its description names: from the repository's
    root when they contain a slash, else from the folder of the row's first path."""
    table = section(read("README.md"), "## Architecture")
    named: set[str] = set()
    for line in table.splitlines():
        row = ROW.match(line)
        if row is None:
            continue
        own = [path for name in NAME.findall(row["paths"]) for path in expand(name)]
        folder = own[0] if own[0].endswith("/") else own[0].rpartition("/")[0] + "/"
        named.update(own)
        for name in NAME.findall(row["what"]):
            for path in expand(name):
                if path.endswith((".py", "/")):
                    named.add(path if "/" in path.rstrip("/") else folder + path)
    return named


def top_level_folders() -> list[str]:
    """Read from the tree, not from git (this check is in the fast tier, which starts no process), less
    what .gitignore keeps out."""
    return [
        path.name + "/"
        for path in ROOT.iterdir()
        if path.is_dir()
        and not path.name.startswith(".")
        and path.name not in ("build", "dist")
        and not path.name.endswith(".egg-info")
    ]


def package_modules() -> list[str]:
    return [
        str(path.relative_to(ROOT)) for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
    ]


def test_every_path_the_table_names_exists() -> None:
    named = named_paths()
    assert len(named) > 20, named
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"the README's architecture table names what is not in the tree: {missing}"


def test_every_package_module_and_top_level_folder_is_on_the_table() -> None:
    """A top-level folder is on it through any path inside it; a subpackage and a module of the three
    packages only by name."""
    named = named_paths()
    absent = [folder for folder in top_level_folders() if not any(path.startswith(folder) for path in named)]
    for path in package_modules():
        folder, _, module = path.rpartition("/")
        if module == "__init__.py" and "/" in folder and folder + "/" not in named:
            absent.append(folder + "/")
        elif "/" not in folder and not module.startswith("__") and path not in named:
            absent.append(path)  # a subpackage's modules are on it through their folder's row
    assert not absent, f"not on the README's architecture table: {sorted(set(absent))}"


def test_a_row_names_its_modules_relative_to_its_folder() -> None:
    assert expand("handlers/{chat,events}.py") == ["handlers/chat.py", "handlers/events.py"]
    assert {
        "handlers/notify.py",
        "handlers/registry.py",
        "fraiday_cli/server/api/schemas.py",
    } <= named_paths()
    assert not any(Path(path).is_absolute() for path in named_paths())
