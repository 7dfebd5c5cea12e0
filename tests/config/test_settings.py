import pytest

from config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "MONGODB_URI", "SLACK_AI_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_seed() -> None:
    settings = load_settings()
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.mongodb_database == "api_service"
    assert settings.port == 8080
    assert settings.queue_weights == {"chat_workflow": 6, "events": 3, "semantic_layer": 2, "default": 2}


def test_redis_parts_build_the_url_and_redis_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_DB", "2")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss/word")
    assert load_settings().redis_url == "redis://:p%40ss%2Fword@cache:6380/2"
    monkeypatch.setenv("REDIS_URL", "redis://other:1/0")
    assert load_settings().redis_url == "redis://other:1/0"


def test_database_name_comes_from_the_uri_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://u:p@db1,db2:27017/fraiday_prod?replicaSet=rs0")
    assert load_settings().mongodb_database == "fraiday_prod"


def test_secrets_never_appear_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_AI_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("REDIS_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("MONGODB_URI", "mongodb://user:mongo-secret@db/x")
    settings = load_settings()
    text = repr(settings) + str(settings)
    for secret in ("xoxb-very-secret", "hunter2-secret", "mongo-secret"):
        assert secret not in text
    monkeypatch.setenv("MONGODB_URI", "http://user:mongo-secret@db/x")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "MONGODB_URI" in str(raised.value)
    assert "mongo-secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("REDIS_PORT", "abc", "REDIS_PORT: must be an integer between 1 and 65535, got 'abc'"),
        ("REDIS_DB", "-1", "REDIS_DB: must be an integer >= 0, got '-1'"),
        ("PORT", "99999", "PORT: must be an integer between 1 and 65535, got '99999'"),
        ("AI_SERVICE_URL", "ftp://x", "AI_SERVICE_URL: must be an http:// or https:// URL, got 'ftp://x'"),
        ("FRAIDAY_QUEUE_WEIGHTS", "events=0", "FRAIDAY_QUEUE_WEIGHTS: weight of 'events' must be at least 1"),
    ],
)
def test_bad_values_get_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)
