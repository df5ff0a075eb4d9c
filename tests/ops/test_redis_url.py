"""REDIS_URL: one server or Sentinel (project/redis_client.py), and the system check that names a
bad one (gatehouse.E021) before the first request that needs Redis fails."""

from __future__ import annotations

import contextlib
import re

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from hypothesis import given
from hypothesis import strategies as st
from redis.sentinel import SentinelConnectionPool

from gateway.checks import redis_url_is_valid
from project.redis_client import RedisUrlError, connection_pool, parse_redis_url


def test_a_sentinel_url_names_the_sentinels_the_service_the_database_and_the_passwords():
    target = parse_redis_url("redis+sentinel://:s3cret@10.0.0.1:26379,sentinel-2:26380/mymaster/3?sentinel_password=x")
    assert target.sentinels == [("10.0.0.1", 26379), ("sentinel-2", 26380)]
    assert (target.service, target.db, target.password, target.sentinel_password) == ("mymaster", 3, "s3cret", "x")
    assert "s3cret" not in repr(target)  # it may be logged


def test_a_sentinel_url_without_a_database_uses_the_first():
    assert parse_redis_url("redis+sentinel://h:26379/mymaster").db == 0


@pytest.mark.parametrize(
    "url, says",
    [
        ("redis+sentinel://h/mymaster/0", "host:port"),
        ("redis+sentinel://h:0/mymaster/0", "host:port"),
        ("redis+sentinel://h:26379,/mymaster/0", "host:port"),
        ("redis+sentinel://h:26379/", "/<service name>"),
        ("redis+sentinel://h:26379/mymaster/0/extra", "/<service name>"),
        ("redis+sentinel://h:26379/mymaster/zero", "must be a number"),
        ("redis+sentinel://h:26379/mymaster/0?is_master=0", "unknown query parameter"),
        ("http://h:6379/0", "scheme"),
        ("h:6379", "scheme"),
    ],
)
def test_a_bad_url_is_refused_saying_what_is_wrong(url, says):
    with pytest.raises(RedisUrlError, match=re.escape(says)):
        parse_redis_url(url)


@given(
    hosts=st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), st.integers(1, 65535)),
        min_size=1,
        max_size=5,
    ),
    service=st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}", fullmatch=True),
    db=st.integers(0, 15),
)
def test_every_well_formed_sentinel_url_parses_back_to_what_it_says(hosts, service, db):
    url = f"redis+sentinel://{','.join(f'{host}:{port}' for host, port in hosts)}/{service}/{db}"
    target = parse_redis_url(url)
    assert (target.sentinels, target.service, target.db) == (hosts, service, db)


@given(st.text(max_size=80))
def test_any_string_either_parses_or_is_a_redis_url_error(text):
    with contextlib.suppress(RedisUrlError):
        parse_redis_url(text)


def test_a_sentinel_url_makes_a_pool_of_the_primary_only():
    pool = connection_pool("redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/4", socket_timeout=1)
    assert isinstance(pool, SentinelConnectionPool) and pool.is_master
    assert pool.connection_kwargs["db"] == 4
    assert pool.connection_class.__name__ == "SealedSentinelManagedConnection"


def test_a_bad_redis_url_is_a_configuration_error_of_manage_py_check(settings):
    settings.REDIS_URL = "redis+sentinel://sentinel/mymaster/0"
    [error] = redis_url_is_valid(None)
    assert error.id == "gatehouse.E021" and "host:port" in error.msg
    with pytest.raises(SystemCheckError, match=r"gatehouse\.E021"):
        call_command("check")


@pytest.mark.parametrize(
    "url", ["", "redis://127.0.0.1:6379/0", "unix:///run/redis.sock?db=1", "redis+sentinel://a:1,b:2/m/0"]
)
def test_a_good_redis_url_passes_the_check(settings, url):
    settings.REDIS_URL = url
    assert redis_url_is_valid(None) == []


def test_the_django_cache_and_the_rate_limits_go_to_the_sentinels_primary(settings):
    url = "redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/5"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": [url],
            "OPTIONS": {"CONNECTION_FACTORY": "project.redis_client.SealedConnectionFactory"},
        }
    }
    from django_redis import get_redis_connection

    pool = get_redis_connection("default").connection_pool  # what gateway.edge.RedisCounter uses
    assert isinstance(pool, SentinelConnectionPool) and pool.is_master and pool.service_name == "mymaster"
    assert pool.connection_kwargs["db"] == 5
    assert pool.connection_class.__name__ == "SealedSentinelManagedConnection"
