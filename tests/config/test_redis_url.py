from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import parse_url

from config.redis_url import build_redis_url

any_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=64)


@given(password=any_text, username=st.none() | any_text)
def test_any_credentials_round_trip_through_redis_py(password: str, username: str | None) -> None:
    url = build_redis_url(host="cache.internal", port=6380, db=3, username=username, password=password)
    parsed = parse_url(url)
    assert parsed["password"] == password
    assert parsed.get("username") == username
    assert parsed["host"] == "cache.internal"
    assert parsed["port"] == 6380
    assert parsed["db"] == 3


@pytest.mark.parametrize("password", ["p@ss:w/rd#1%?", "with space", "ünïcødé", "a%40b"])
def test_awkward_passwords_do_not_move_the_host(password: str) -> None:
    url = build_redis_url(host="h", port=1, password=password)
    assert urlsplit(url).hostname == "h"
    assert parse_url(url)["password"] == password


def test_tls_uses_rediss_and_ipv6_hosts_are_bracketed() -> None:
    assert build_redis_url(host="::1", tls=True) == "rediss://[::1]:6379/0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "h", "port": 0}, "port must be an integer between 1 and 65535"),
        ({"host": "h", "port": 70000}, "port must be"),
        ({"host": "h", "db": -1}, "db must be a non-negative integer"),
        ({"host": ""}, "host must be"),
        ({"host": "a@b"}, "host must be"),
    ],
)
def test_invalid_parts_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_redis_url(**kwargs)
