"""The server's process is patched by gevent before anything imports ssl, and no other command's is.

Patched late, urllib3's TLS contexts recurse without end and pymongo's sockets stay blocking (gevent
issue 1016): a server talking TLS to MongoDB or Redis would fail only in production.
"""

import subprocess
import sys
from pathlib import Path

from tests.harness.process import free_port
from tests.processes import fraiday, wait_for
from tests.support.http_checks import answers_ping

AFTER_RUN = """
import sys
from fraiday_cli import launcher
sys.argv = ["fraiday", *sys.argv[1:]]
try:
    launcher.run()
except SystemExit:
    pass
import gevent.monkey
import urllib3.util.ssl_
urllib3.util.ssl_.create_urllib3_context()
print("patched" if gevent.monkey.is_module_patched("ssl") else "not patched")
"""


def launched(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", AFTER_RUN, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_server_is_patched_before_ssl_is_imported_and_tls_contexts_work() -> None:
    assert launched("server", "--help") == "patched"
    assert launched("--mode=server", "--help") == "patched"


def test_other_commands_keep_the_standard_library() -> None:
    assert launched("worker", "--help") == "not patched"
    assert launched("--mode=worker", "--help") == "not patched"
    assert launched("queues", "--help") == "not patched"


def test_a_running_server_logs_no_late_patching_warning(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    with fraiday(["server", "--port", str(port), "--workers", "1"], env, tmp_path / "server.log") as server:
        wait_for(lambda: answers_ping(port), 30, what="the server answering /ping")
        assert "MonkeyPatchWarning" not in server.output()
