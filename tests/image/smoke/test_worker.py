"""The worker by CMD override (``docker run IMAGE worker --queue=events --concurrency=2``), fed by
``fraiday enqueue`` run inside the image, doing a real ``event:process``: stored, webhook delivered."""

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from handlers.services.signing import SIGNATURE_HEADER, verify
from tests.harness.memory import pss_mib
from tests.harness.process import free_port
from tests.image.docker_cli import DockerCli
from tests.image.smoke.conftest import API_KEY
from tests.image.smoke.containers import Container, run_argv
from tests.image.smoke.test_server import answers
from tests.processes import wait_for
from tests.support.http_stub import Answer, HttpStub, http_stub

WORKER = ["worker", "--queue=events", "--concurrency=2"]
HOOK_SECONDS = 3.0


@pytest.fixture(scope="module")
def env(runtime_env: dict[str, str]) -> dict[str, str]:
    # The webhook receiver is on loopback, which the SSRF guard refuses unless allowed.
    return {**runtime_env, "FRAIDAY_WEBHOOK_ALLOWLIST": "127.0.0.1"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpStub]:
    with http_stub() as stub:
        stub.script("/hook", Answer(200))
        stub.script("/slow", Answer(200, delay=HOOK_SECONDS))
        yield stub


@pytest.fixture(scope="module")
def api(docker: DockerCli, image: str, env: dict[str, str]) -> Iterator[str]:
    """The server, for what users do through the API: subscribe webhooks, read a task's status."""
    port = free_port()
    container = Container.start(docker, image, [], {**env, "PORT": str(port)})
    base = f"http://127.0.0.1:{port}/api/v1"
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/ping"), 60, what="the API container")
    yield base
    container.remove()


def call(method: str, url: str, **kwargs: object) -> dict[str, object]:
    response = requests.request(
        method, url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10, **kwargs
    )
    assert response.status_code < 300, response.text
    return response.json()  # type: ignore[no-any-return]


def subscribe(api: str, client_id: str, url: str) -> str:
    """Subscribe through the API; return the signing secret (shown only in this answer)."""
    body = {"url": url, "event_types": ["order.created"]}
    return str(call("POST", f"{api}/clients/{client_id}/webhooks", json=body)["secret"])


def task_status(api: str, task_id: str) -> str:
    return str(call("GET", f"{api}/tasks/{task_id}")["status"])


def enqueue_in_image(docker: DockerCli, image: str, env: dict[str, str], client_id: str) -> tuple[str, str]:
    event_id = f"evt-{uuid.uuid4().hex[:8]}"
    payload = {
        "event_id": event_id, "client_id": client_id, "event_type": "order.created",
        "entity_type": "order", "payload": {"total": 42},
    }  # fmt: skip
    name = f"fraiday-enqueue-{uuid.uuid4().hex[:8]}"
    argv = run_argv(
        image, ["enqueue", "event:process", "--payload", json.dumps(payload)], env, name, False, True
    )
    return docker.run(*argv).strip().splitlines()[-1], event_id


@dataclass(frozen=True)
class Job:
    task_id: str
    event_id: str
    secret: str


@pytest.fixture(scope="module")
def first_job(docker: DockerCli, image: str, env: dict[str, str], api: str, receiver: HttpStub) -> Job:
    secret = subscribe(api, "smoke-fast", receiver.url + "/hook")
    task_id, event_id = enqueue_in_image(docker, image, env, "smoke-fast")
    assert task_status(api, task_id) == "queued"
    return Job(task_id, event_id, secret)


@pytest.fixture(scope="module")
def worker(
    docker: DockerCli,
    image: str,
    env: dict[str, str],
    api: str,
    first_job: Job,
    measurements: dict[str, str],
) -> Iterator[Container]:
    """Started with a job already waiting, so its start-up time is docker run to that job done."""
    started = time.monotonic()
    container = Container.start(docker, image, WORKER, {**env, "FRAIDAY_METRICS_PORT": str(free_port())})
    try:
        wait_for(
            lambda: task_status(api, first_job.task_id) == "finished", 60, what="the first job to finish"
        )
    except AssertionError:
        pytest.fail(f"the worker did not finish the job:\n{container.logs()[-3000:]}")
    measurements["worker: docker run to first job done"] = f"{time.monotonic() - started:.2f} s"
    yield container
    container.remove()


def test_worker_completes_a_job_enqueued_inside_the_image(
    worker: Container, first_job: Job, receiver: HttpStub
) -> None:
    deliveries = receiver.to("/hook")
    assert [d.json()["data"]["event_id"] for d in deliveries] == [first_job.event_id]
    verify(first_job.secret, deliveries[0].body, deliveries[0].headers[SIGNATURE_HEADER])


def test_every_worker_process_runs_as_10001(worker: Container, measurements: dict[str, str]) -> None:
    identities = worker.identities()
    assert len(identities) >= 3, identities  # the pool and its two slots
    for identity in identities:
        assert identity.uids == ("10001",) * 4, identity
        assert identity.gids == ("10001",) * 4, identity
    measurements["worker memory (PSS, concurrency 2)"] = f"{pss_mib(identities[0].pid)} MiB"


def test_docker_stop_drains_the_running_job(
    worker: Container,
    docker: DockerCli,
    image: str,
    env: dict[str, str],
    api: str,
    receiver: HttpStub,
    measurements: dict[str, str],
) -> None:
    subscribe(api, "smoke-slow", receiver.url + "/slow")
    task_id, event_id = enqueue_in_image(docker, image, env, "smoke-slow")
    wait_for(lambda: receiver.to("/slow"), 30, what="the slow job to reach its webhook")
    assert task_status(api, task_id) == "started"
    exit_code, seconds = worker.stop()  # docker's default: SIGTERM, then SIGKILL after 10 s
    assert exit_code == 0, worker.logs()[-3000:]
    assert task_status(api, task_id) == "finished"
    assert [d.json()["data"]["event_id"] for d in receiver.to("/slow")] == [event_id]
    measurements["worker: docker stop while a job runs (webhook answers after 3 s)"] = f"{seconds:.2f} s"
