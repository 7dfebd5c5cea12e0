"""The one settings object, read from the environment once at start and passed down explicitly.

Variable names follow the seed (``REDIS_HOST``, ``MONGODB_URI``, ...); settings that are new in fraiday
carry a ``FRAIDAY_`` prefix so they cannot collide with variables other services in the pod read.
"""

import ipaddress
import json
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.errors import ConfigError, describe_validation_error
from config.periodic import PeriodicTask
from config.redis_url import MAX_PORT, build_redis_url

DEFAULT_DATABASE = "api_service"

T = TypeVar("T")


def _int_between(low: int, high: int | None = None) -> BeforeValidator:
    """A validator with the message operators need: the accepted range, not pydantic's parser detail."""
    expected = f"an integer between {low} and {high}" if high is not None else f"an integer >= {low}"

    def check(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"must be {expected}") from None
        if number < low or (high is not None and number > high):
            raise ValueError(f"must be {expected}")
        return number

    return BeforeValidator(check)


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _key_values(value: Any) -> Any:
    """Parse ``a=1,b=2`` (the shape that fits in one environment variable) into a dict."""
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for item in _comma_list(value):
        key, sep, val = item.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise ValueError(f"must be comma-separated name=value pairs, bad item {item!r}")
        pairs[key.strip()] = val.strip()
    return pairs


def _weights(value: Any) -> Any:
    weights: dict[str, int] = {}
    for queue, weight in _key_values(value).items():
        try:
            weights[queue] = int(weight)
        except (TypeError, ValueError):
            raise ValueError(f"weight of {queue!r} must be an integer") from None
        if weights[queue] < 1:
            raise ValueError(f"weight of {queue!r} must be at least 1")
    return weights


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _json_list(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value) if value.strip() else []
    except json.JSONDecodeError as exc:
        raise ValueError(f"must be a JSON list ({exc})") from None
    if not isinstance(parsed, list):
        raise ValueError("must be a JSON list")
    return parsed


Port = Annotated[int, _int_between(1, MAX_PORT)]
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


def _env(name: str, default: T, *aliases: str, **kwargs: Any) -> T:
    return Field(  # type: ignore[no-any-return]
        default, validation_alias=AliasChoices(name, *aliases) if aliases else name, **kwargs
    )


class Settings(BaseSettings):
    """Everything a fraiday process reads from its environment."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", populate_by_name=True, validate_default=True, frozen=True
    )

    # The AI service (seed: AI_SERVICE_URL, SLACK_AI_TOKEN).
    ai_service_url: str | None = _env("AI_SERVICE_URL", None)
    slack_ai_token: SecretStr | None = _env("SLACK_AI_TOKEN", None)
    ai_chat_path: str = _env("AI_SERVICE_CHAT_PATH", "/v1/chat")
    ai_sync_path: str = _env("AI_SERVICE_SYNC_PATH", "/v1/semantic-layer/sync")
    ai_timeout_seconds: Annotated[int, _int_between(1, 600)] = _env("FRAIDAY_AI_TIMEOUT_SECONDS", 60)
    context_messages: Annotated[int, _int_between(0, 200)] = _env("FRAIDAY_CONTEXT_MESSAGES", 20)

    # The HTTP API.
    api_keys: Annotated[list[SecretStr], NoDecode, BeforeValidator(_comma_list)] = _env(
        "FRAIDAY_API_KEYS", []
    )
    """Bearer keys accepted on /api/v1; several at once so a key can be rotated without downtime."""
    max_body_bytes: Annotated[int, _int_between(1024, 64 * 1024 * 1024)] = _env(
        "FRAIDAY_MAX_BODY_BYTES", 1024 * 1024
    )

    # Webhooks.
    webhook_timeout_seconds: Annotated[int, _int_between(1, 120)] = _env(
        "FRAIDAY_WEBHOOK_TIMEOUT_SECONDS", 10
    )
    webhook_allowlist: CommaList = _env("FRAIDAY_WEBHOOK_ALLOWLIST", [])
    """Hosts or CIDR ranges webhooks may reach although they are loopback, private or link-local."""

    # Redis (seed: REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD); REDIS_URL wins when set.
    redis_url_override: SecretStr | None = _env("REDIS_URL", None)
    redis_host: str = _env("REDIS_HOST", "localhost")
    redis_port: Port = _env("REDIS_PORT", 6379)
    redis_db: Annotated[int, _int_between(0)] = _env("REDIS_DB", 0)
    redis_username: str | None = _env("REDIS_USERNAME", None)
    redis_password: SecretStr | None = _env("REDIS_PASSWORD", None)
    redis_tls: bool = _env("REDIS_TLS", False)

    # MongoDB (seed: MONGODB_URI; the database is the URI's path).
    mongodb_uri: SecretStr = _env("MONGODB_URI", SecretStr(f"mongodb://localhost:27017/{DEFAULT_DATABASE}"))

    # Process-wide.
    port: Port = _env("PORT", 8080)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _env("LOG_LEVEL", "INFO")
    log_format: Literal["json", "text"] = _env("LOG_FORMAT", "json")

    # The task system. Weights are the seed's priorities (chat_workflow 6, events 3, default 2), with
    # fraiday's semantic_layer queue at the weight of the Go service's `default`, where its syncs ran.
    queue_weights: Annotated[dict[str, int], NoDecode, BeforeValidator(_weights)] = _env(
        "FRAIDAY_QUEUE_WEIGHTS", {"chat_workflow": 6, "events": 3, "semantic_layer": 2, "default": 2}
    )
    task_queues: Annotated[dict[str, str], NoDecode, BeforeValidator(_key_values)] = _env(
        "FRAIDAY_TASK_QUEUES", {}
    )
    worker_grace_seconds: Annotated[int, _int_between(1, 3600)] = _env("FRAIDAY_WORKER_GRACE_SECONDS", 25)
    recovery_seconds: Annotated[int, _int_between(3, 3600)] = _env("FRAIDAY_RECOVERY_SECONDS", 60)
    metrics_port: Annotated[int, _int_between(0, MAX_PORT)] = _env("FRAIDAY_METRICS_PORT", 9100)
    """The worker's /metrics, /livez and /readyz port; 0 turns it off."""
    periodic_tasks: Annotated[list[PeriodicTask], NoDecode, BeforeValidator(_json_list)] = _env(
        "FRAIDAY_PERIODIC_TASKS", []
    )
    """A JSON list of :class:`PeriodicTask`, run by ``fraiday scheduler``."""

    @field_validator("periodic_tasks")
    @classmethod
    def _unique_names(cls, tasks: list[PeriodicTask]) -> list[PeriodicTask]:
        names = [task.name for task in tasks]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"periodic task names must be unique; repeated: {', '.join(repeated)}")
        return tasks

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("ai_service_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("redis_url_override")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty REDIS_URL means unset (REDIS_HOST and friends apply), as for AI_SERVICE_URL."""
        if value is None or not value.get_secret_value():
            return None
        if urlsplit(value.get_secret_value()).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("mongodb_uri")
    @classmethod
    def _mongodb_scheme(cls, value: SecretStr) -> SecretStr:
        if urlsplit(value.get_secret_value()).scheme not in ("mongodb", "mongodb+srv"):
            raise ValueError("must be a mongodb:// or mongodb+srv:// URI")
        return value

    @field_validator("ai_chat_path", "ai_sync_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value:
            raise ValueError("must be an absolute path such as /v1/chat")
        return value

    @field_validator("webhook_allowlist")
    @classmethod
    def _hosts_or_networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not a CIDR range") from None
            elif any(c in entry for c in " :@?#") and not _is_ip(entry):
                raise ValueError(f"{entry!r} is not a host name, address or CIDR range")
        return [entry.lower() for entry in entries]

    @field_validator("redis_host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        if not value or any(c in value for c in " /?#@"):
            raise ValueError("must be a bare host name or address")
        return value

    @cached_property
    def redis_url(self) -> str:
        """The URL every Redis client is built from; it may hold the password, so never log it."""
        if self.redis_url_override is not None:
            return self.redis_url_override.get_secret_value()
        return build_redis_url(
            host=self.redis_host,
            port=self.redis_port,
            db=self.redis_db,
            username=self.redis_username,
            password=self.redis_password.get_secret_value() if self.redis_password else None,
            tls=self.redis_tls,
        )

    @cached_property
    def mongodb_database(self) -> str:
        path = urlsplit(self.mongodb_uri.get_secret_value()).path.lstrip("/")
        return unquote(path) or DEFAULT_DATABASE

    def secret_values(self) -> list[str]:
        """Every configured secret (passwords also percent-encoded, as they appear in URLs), for the
        redactor that masks them in error texts and log lines (config/redaction.py)."""
        values = [s.get_secret_value() for s in (self.slack_ai_token, self.redis_password) if s is not None]
        values += [key.get_secret_value() for key in self.api_keys]
        for url in (self.redis_url, self.mongodb_uri.get_secret_value()):
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                values += [password, unquote(password)]
        return list(dict.fromkeys(v for v in values if len(v) >= 4))


def env_names() -> dict[str, str]:
    names = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names[field] = alias.choices[0] if isinstance(alias, AliasChoices) else str(alias or field).upper()
    return {field: str(name) for field, name in names.items()}


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise ConfigError with one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        names = env_names()
        secrets = [f for f, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)]
        # Errors name a field by its environment variable, so mark both spellings as secret.
        raise ConfigError(
            describe_validation_error(exc, names, secrets + [names[f] for f in secrets])
        ) from None
