"""The README's quick start and "Using the API" session, run as written, against ``run-local.sh``.

Commands come from the README's fenced bash blocks, and the signature check from docs/webhooks.md;
the only substitutions are the ones the README offers the reader: the API port (``PORT``) and the
webhook receiver's port. The AI service is a loopback stub.
"""

import json
import os
import shlex
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import with_database
from tests.harness.process import free_port
from tests.harness.redis_server import RedisServer
from tests.processes import wait_for
from tests.readme.bash_session import BashSession, Step
from tests.readme.markdown import ROOT, commands, fenced_blocks, read, section
from tests.support.http_stub import Answer, HttpStub, http_stub
from tests.support.local_stack import LocalStack

README_RECEIVER_PORT = "9000"
REPLY = "It ships tomorrow."
SYNC_SECONDS = 5.0
"""How long the stub AI service takes over a sync: the README's second sync must find the first running."""


def quick_start_command() -> list[str]:
    first = commands(fenced_blocks(section(read("README.md"), "## Quick start"), "bash")[0])[0]
    return shlex.split(first, comments=True)


def using_the_api() -> tuple[str, list[str]]:
    """The receiver command and the session's commands, with the receiver's port the README lets us pick."""
    receiver_block, session_block = fenced_blocks(section(read("README.md"), "## Using the API"), "bash")
    return receiver_block.strip(), commands(session_block)


def signature_verifier() -> Callable[[str, bytes, str], None]:
    (snippet,) = fenced_blocks(section(read("docs/webhooks.md"), "## Verifying the signature"), "python")
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # the documentation's own code, as a receiver would paste it
    verify: Callable[[str, bytes, str], None] = namespace["verify"]
    return verify


def answer(step: Step) -> tuple[int, Any]:
    """The status line and JSON body the README's ``api`` helper prints (stderr may come first)."""
    lines = [line for line in step.output.splitlines() if line.strip()]
    statuses = [int(line.split()[1]) for line in lines if line.startswith("HTTP ")]
    bodies = [line for line in lines if not line.startswith("HTTP ")]
    assert step.status == 0 and len(statuses) == 1, step
    return statuses[0], json.loads(bodies[0]) if bodies else None


class Receiver:
    """The README's webhook receiver, as a reader starts it in a second terminal."""

    def __init__(self, command: str) -> None:
        self.process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: any("listening" in line for line in self.lines), 15, what="the webhook receiver")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def deliveries(self, event_type: str) -> list[tuple[dict[str, str], bytes]]:
        """(headers it printed, raw body) of each delivery of this event type."""
        found = []
        lines = list(self.lines)
        for index, line in enumerate(lines[:-1]):
            if line.startswith(f"{event_type} delivery="):
                fields = dict(part.split("=", 1) for part in line.split(" ")[1:])
                found.append((fields, lines[index + 1].encode()))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 2)
        self.process.wait(10)


@pytest.fixture
def ai_service() -> Iterator[HttpStub]:
    with http_stub() as stub:
        stub.script("/v1/chat", Answer(200, {"reply": REPLY}))
        accepted = Answer(200, {"job_id": "sl-1", "status": "accepted"}, SYNC_SECONDS)
        stub.script("/v1/semantic-layer/sync", accepted)
        yield stub


@pytest.fixture
def stack(tmp_path: Path, ai_service: HttpStub) -> Iterator[LocalStack]:
    env = {
        **os.environ,
        "PORT": str(free_port()),
        "FRAIDAY_LOCAL_STATE": str(tmp_path / "state"),
        "AI_SERVICE_URL": ai_service.url,
        "SLACK_AI_TOKEN": "stub-token",
    }
    if os.environ.get("FRAIDAY_TEST_MONGODB_URI"):
        database = f"readme_{uuid.uuid4().hex[:8]}"
        env["MONGODB_URI"] = with_database(os.environ["FRAIDAY_TEST_MONGODB_URI"], database)
    local = LocalStack(quick_start_command(), env)
    try:
        yield local
    finally:
        local.kill_everything()


def test_the_readme_session_works_against_run_local(stack: LocalStack, tmp_path: Path) -> None:
    assert stack.argv == ["./scripts/run-local.sh"]
    stack.start()
    banner = stack.output
    api_url = f"http://127.0.0.1:{stack.env['PORT']}/api/v1"
    assert api_url in banner and "local-dev-key" in banner and stack.env["AI_SERVICE_URL"] in banner
    assert str(tmp_path / "state" / "logs") in banner

    receiver_port = str(free_port())
    receiver_command, session = using_the_api()
    assert receiver_command.count(README_RECEIVER_PORT) == 1
    receiver = Receiver(receiver_command.replace(README_RECEIVER_PORT, receiver_port))
    verify = signature_verifier()
    try:
        # The webhook URL names the receiver's port once; the reader's terminal has PORT as run-local had.
        assert sum(f"127.0.0.1:{README_RECEIVER_PORT}/" in command for command in session) == 1
        with BashSession(ROOT, stack.env) as bash:
            steps: list[Step] = []
            for command in session:
                steps.append(
                    bash.run(
                        command.replace(f"127.0.0.1:{README_RECEIVER_PORT}/", f"127.0.0.1:{receiver_port}/")
                    )
                )
                assert steps[-1].status == 0 and "Traceback" not in steps[-1].output, steps[-1]

            def step(*fragments: str) -> list[Step]:
                found = [s for s in steps if all(f in s.command for f in fragments)]
                assert found, f"no README command with {fragments}"
                return found

            # The subscription: its secret is what the receiver checks signatures with.
            status, created = answer(step("-d", "/webhooks")[0])
            assert status == 201 and created["url"] == f"http://127.0.0.1:{receiver_port}/fraiday"
            secret = created["secret"]

            # The chat message is answered by the workflow; its reply stored after the message.
            (task_command,) = step("/tasks/")

            def finished() -> bool:
                return bool(answer(bash.run(task_command.command))[1]["status"] == "finished")

            wait_for(finished, 60, interval=0.5, what="the chat task to finish")
            (listing,) = step("/messages?limit=20")
            status, messages = answer(bash.run(listing.command))
            contents = [(m["role"], m["content"]) for m in messages["messages"]]
            assert status == 200 and contents == [("user", "Where is my order?"), ("assistant", REPLY)]

            # A signed chat.response reached the receiver, and the docs' snippet accepts its signature.
            wait_for(lambda: receiver.deliveries("chat.response"), 30, what="the chat.response webhook")
            ((headers, body),) = receiver.deliveries("chat.response")
            verify(secret, body, headers["signature"])
            assert json.loads(body)["data"]["content"] == REPLY

            # The same event twice: accepted once, the second answer naming the first task.
            first, second = (answer(s) for s in step("$EVENT", "/events"))
            assert first[0] == second[0] == 202
            assert (first[1]["duplicate"], second[1]["duplicate"]) == (False, True)
            assert second[1]["task_id"] == first[1]["task_id"]
            wait_for(
                lambda: answer(bash.run(f"api $API/tasks/{first[1]['task_id']}"))[1]["status"] == "finished",
                30,
                interval=0.5,
                what="the event task",
            )
            assert len(receiver.deliveries("order.created")) == 1

            # A second sync while the first runs: 409 with the first's task id.
            sync_first, sync_second = (answer(s) for s in step("/semantic-layer/sync"))
            assert sync_first[0] == 202 and sync_second[0] == 409
            assert sync_second[1]["task_id"] == sync_first[1]["task_id"]
    finally:
        receiver.stop()

    # Ctrl+C: everything it started stops, the data servers last, and no log holds a traceback.
    assert stack.interrupt() == 0, stack.output
    assert stack.left_running() == {}
    assert "Traceback" not in stack.output
    logs = sorted((tmp_path / "state" / "logs").glob("*.log"))
    assert {log.name for log in logs} >= {"server.log", "scheduler.log", "redis.log", "worker-events.log"}
    for log in logs:
        assert "Traceback" not in log.read_text(errors="replace"), f"{log.name}:\n{log.read_text()[-3000:]}"

    # What the next start finds in Redis's data: no worker, and no scheduler leader, left registered.
    data = RedisServer(tmp_path / "state" / "redis")
    data.start()
    try:
        connection = redis.Redis.from_url(data.url)
        left = connection.keys("rq:workers*") + connection.keys("fraiday:scheduler:leader")
        assert left == []
    finally:
        data.stop()
