"""Redis or MongoDB unreachable: every command says so in one line naming the address, exit code 1."""

from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from config.addresses import masked_url
from fraiday_cli.unreachable import describe_unreachable
from tests.cli.test_cli import run
from tests.harness.redis_server import RedisServer
from tests.processes import TEST_REGISTRY
from tests.support.http_stub import http_stub

PASSWORD = "hunter2-secret"
SEMANTIC_SYNC = '{"client_id": "acme", "sync_type": "full"}'


@pytest.fixture
def stopped_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real Redis that was running on its port and has been stopped: connections are refused."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    server.stop()
    yield server
    server.stop()


EVERY_COMMAND = [
    ["queues"],
    ["queues", "--json"],
    ["jobs", "-q", "events"],
    ["pause", "-q", "events"],
    ["resume", "-q", "events"],
    ["drain", "-q", "events", "--timeout", "1"],
    ["requeue", "--all"],
    ["requeue", "some-task-id"],
    ["purge", "-q", "events"],
    ["enqueue", "semantic_layer:sync", "--payload", SEMANTIC_SYNC],
]


@pytest.mark.parametrize("args", EVERY_COMMAND)
def test_every_command_says_redis_is_unreachable_in_one_line(
    env: dict[str, str], stopped_redis: RedisServer, args: list[str]
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{stopped_redis.port}/0"
    result = run(args, {**env, "REDIS_URL": url})
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"fraiday: cannot reach Redis at redis://:***@127.0.0.1:{stopped_redis.port}/0: "
        f"Error 111 connecting to 127.0.0.1:{stopped_redis.port}. Connection refused."
    ]


@pytest.mark.parametrize("args", [EVERY_COMMAND[0], EVERY_COMMAND[5], EVERY_COMMAND[6], EVERY_COMMAND[-1]])
def test_an_address_that_is_not_redis_is_one_line(env: dict[str, str], args: list[str]) -> None:
    """REDIS_PORT on the API's 8080 (or any HTTP port) by mistake: the answer is not Redis's protocol.
    redis-py raises InvalidResponse there, which is not a ConnectionError: an 80-line traceback before.
    (The line comes from one place for every command; a read, a wait, a write and an enqueue show it.)"""
    with http_stub() as not_redis:
        port = not_redis.server.server_port
        result = run(args, {**env, "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{port}/0"})
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"fraiday: cannot reach Redis at redis://:***@127.0.0.1:{port}/0: not a Redis server (Protocol error"
    )


def test_an_unknown_redis_host_is_one_line_too(env: dict[str, str]) -> None:
    result = run(["queues"], {**env, "REDIS_URL": "", "REDIS_HOST": "no-such-host.invalid"})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("fraiday: cannot reach Redis at redis://no-such-host.invalid:6379/0: ")


def test_a_mongodb_that_does_not_answer_is_named_with_its_password_masked(
    stopped_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"mongodb://app:{PASSWORD}@127.0.0.1:{stopped_redis.port}/fraiday"
    monkeypatch.setenv("MONGODB_URI", uri)
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(uri, serverSelectionTimeoutMS=200)
    with pytest.raises(pymongo.errors.ServerSelectionTimeoutError) as raised:
        client.admin.command("ping")
    line = describe_unreachable(raised.value)
    assert line.startswith(
        f"cannot reach MongoDB at mongodb://app:***@127.0.0.1:{stopped_redis.port}/fraiday: "
    )
    assert PASSWORD not in line and "\n" not in line


def test_masked_url_keeps_everything_but_the_password() -> None:
    assert (
        masked_url("rediss://user:p%40ss@redis.internal:6380/2") == "rediss://user:***@redis.internal:6380/2"
    )
    assert masked_url("redis://redis:6379/0") == "redis://redis:6379/0"
    assert masked_url("mongodb://u:p@a:1,b:2/db?replicaSet=rs") == "mongodb://u:***@a:1,b:2/db?replicaSet=rs"


def test_bad_redis_url_is_configuration_not_a_traceback(env: dict[str, str]) -> None:
    result = run(["queues", "--queue", "events"], {**env, "REDIS_URL": "http://redis:6379"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "fraiday: invalid configuration: REDIS_URL: must be a redis://, rediss:// or unix:// URL"
    ]
    assert run(["enqueue", "--list", "--registry", TEST_REGISTRY], {**env, "REDIS_URL": ""}).returncode == 0
