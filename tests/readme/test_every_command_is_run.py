"""Every command the README's bash blocks tell a reader to run is run by a test, or says here why not.

A README command that no test runs drifts away from what works. The tests named below read their
commands from the README section itself; a new command in a section they do not cover, or a new
section, fails here until it has a runner (or a reason no test can run it).
"""

import pytest

from tests.readme.markdown import ROOT, commands, fenced_blocks, read, section

SHELL_LANGUAGES = ("bash", "sh", "shell", "console")

RUN_BY: dict[tuple[str, str], str] = {
    # (section, how the command starts): the test that reads the section and runs the command.
    ("## Quick start", "./scripts/run-local.sh"): "tests/readme/test_using_the_api.py",
    ("## Quick start", "source .venv/bin/activate"): "tests/readme/test_commands.py",
    ("## Quick start", ".venv/bin/pytest -m unit"): "tests/test_tiers.py",
    ("## Using the API", ""): "tests/readme/test_using_the_api.py",
    ("## Commands", "fraiday"): "tests/readme/test_commands.py",
    ("## Operations", "fraiday"): "tests/readme/test_commands.py",
}

NOT_RUN: dict[tuple[str, str], str] = {
    ("## Quick start", "./scripts/test.sh"): "it is the whole check, this suite included; .ci/run runs it",
    ("## Deployment", "docker "): "needs a Docker daemon: .ci/run's `nox -s image` builds and runs the image",
    ("## Deployment", "kubectl "): "needs a Kubernetes cluster",
    ("## Deployment", "helm upgrade "): "needs a Kubernetes cluster; tests/charts renders the chart",
}


def readme_commands() -> list[tuple[str, str]]:
    """(section heading, command) for every command of every shell block of the README."""
    text = read("README.md")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    found: list[tuple[str, str]] = []
    for heading in headings:
        # Only the section's own text: its subsections are headed ### and stay inside it.
        for language in SHELL_LANGUAGES:
            for block in fenced_blocks(section(text, heading), language):
                found.extend((heading, command) for command in commands(block))
    return found


def rule_for(heading: str, command: str) -> tuple[str, str] | None:
    matches = [key for key in (*RUN_BY, *NOT_RUN) if key[0] == heading and command.startswith(key[1])]
    return max(matches, key=lambda key: len(key[1])) if matches else None


def test_every_readme_command_has_a_runner() -> None:
    uncovered = [
        f"{heading}: {command}" for heading, command in readme_commands() if not rule_for(heading, command)
    ]
    assert not uncovered, (
        "README commands no test runs (add a test that reads them from the README, and an entry in "
        "RUN_BY; or, if no test can run them, an entry with the reason in NOT_RUN):\n" + "\n".join(uncovered)
    )


def test_every_entry_still_names_a_readme_command() -> None:
    used = {rule_for(heading, command) for heading, command in readme_commands()}
    assert set(RUN_BY) | set(NOT_RUN) <= used, sorted((set(RUN_BY) | set(NOT_RUN)) - used)


@pytest.mark.parametrize("heading", sorted({heading for heading, _ in RUN_BY}))
def test_each_runner_reads_its_section_from_the_readme(heading: str) -> None:
    for runner in {path for (section_heading, _), path in RUN_BY.items() if section_heading == heading}:
        source = (ROOT / runner).read_text()
        assert f'"{heading}"' in source and '"README.md"' in source, f"{runner} does not read {heading}"
