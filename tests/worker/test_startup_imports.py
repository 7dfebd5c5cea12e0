"""``fraiday worker`` starts by importing the whole CLI and the task registry, so what any command imports
at its top is paid by every worker start. These stay out of it: the server's stack, the bridges' peers, and
croniter, which runs ``file`` on the interpreter as it loads (its 32-bit check calls
``platform.architecture()``), a subprocess of about 0.1 s on every start."""

import subprocess
import sys

ONLY_OTHER_COMMANDS_NEED = ["croniter", "gunicorn", "flask", "gevent", "celery", "kombu", "google.protobuf"]


def test_the_worker_command_imports_nothing_only_other_commands_need() -> None:
    probe = (
        "import sys, fraiday_cli.main, handlers.task_types; "
        f"print(' '.join(name for name in {ONLY_OTHER_COMMANDS_NEED!r} if name in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == []


def test_the_scheduler_still_loads_croniter_when_it_runs() -> None:
    probe = (
        "import sys; from fraiday_cli.scheduler.periodic import latest_tick; "
        "latest_tick('* * * * *', 0.0); print('croniter' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "True"
