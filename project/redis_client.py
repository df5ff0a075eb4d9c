"""Every Redis connection Gatehouse opens: the REDIS_URL forms, and the seal that keeps a failover
(or a restart from an older snapshot) from bringing back a revoked grant or session.

REDIS_URL is `redis://`, `rediss://` or `unix://` (one server), or
`redis+sentinel://[:password@]host:port[,host:port…]/service[/db][?sentinel_password=…]`: the
Sentinels are asked which server is the primary (redis-py's `redis.sentinel.Sentinel`), and every
connection goes to the primary, never to a replica (a replica lags). The password is the Redis
servers'; `sentinel_password`, if the Sentinels have one of their own.

**The seal.** Replication is asynchronous: a replica promoted to primary may lack the last writes
its old primary acknowledged, among them a token replacement or a revocation marker a revoke
already returned on. Every connection, when it opens, asks the server its `run_id` and replication
id (`identity`: a restarted server has a new run_id, a promoted replica a new replication id, so
neither was ever seen before) and compares them with the key `gatehouse:epoch`, which names the
server that was sealed.
The same server: the connection is used. A different one: the server's data may be older than
what was served before, so the first connection to see it seals it (the others wait):

1. it waits out a mirror lease (project/mirror.py): every process's copy that was renewed on the
   old primary stops being used, and no connection to the new one is handed out meanwhile;
2. it deletes what could have gone backwards: the RBAC version tokens and entries, the session
   markers, the unread-count versions and the mirror's members (`FORGOTTEN`); every reader then
   finds nothing, asks the database (which has every committed revoke) and files new tokens;
3. it records the server's identity as the epoch.

No epoch at all (a new or flushed Redis) is recorded without a wait: there is nothing older to
come back. docs/rbac.md ("Failover") has the argument.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from django_redis.pool import ConnectionFactory
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

log = logging.getLogger(__name__)

SENTINEL_SCHEME = "redis+sentinel"
EPOCH_KEY = "gatehouse:epoch"
SEALING_KEY = "gatehouse:epoch:sealing"
SEAL_TIMEOUT = 15.0  # seconds another connection waits for a seal before giving up (an outage)
# Cache keys (Django's, before the cache's prefix) whose values could go backwards in a failover.
FORGOTTEN = ("rbac:*", "auth:sid:*", "notif:unread:*")
FORGOTTEN_RAW = ("gatehouse:mirror:*",)  # the mirror's own keys, not the Django cache's

# How many seals this process made (the failover test prints them), and the epoch (identity) of
# the server this process's connections last opened on.
seals = 0
_epoch: str | None = None


def current_epoch() -> str | None:
    """The identity of the primary this process last connected to (None before any connection). A
    write that depends on something read earlier passes it to `add_if_epoch`: across a failover
    it is refused, since the new primary may lack what the read relied on."""
    return _epoch


_SET_IF_EPOCH = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return false end
return redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3])
"""


def add_if_epoch(client: redis.Redis, key: str, value: Any, seconds: float, epoch: str | None) -> bool:
    """SET key value NX (expiring after `seconds`), only on the server whose epoch is `epoch`."""
    if epoch is None:
        return False
    return bool(client.eval(_SET_IF_EPOCH, 2, key, EPOCH_KEY, epoch, value, max(int(seconds * 1000), 1)))


class RedisUrlError(ValueError):
    pass


@dataclass(frozen=True)
class RedisTarget:
    url: str = field(repr=False)  # it may hold a password
    sentinels: list[tuple[str, int]] = field(default_factory=list)
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def is_sentinel(self) -> bool:
        return bool(self.sentinels)


def parse_redis_url(url: str) -> RedisTarget:
    """The target REDIS_URL names; RedisUrlError saying what is wrong with it otherwise."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("redis", "rediss", "unix"):
        try:
            redis.connection.parse_url(url)
        except ValueError as exc:
            raise RedisUrlError(str(exc)) from None
        return RedisTarget(url=url)
    if scheme != SENTINEL_SCHEME:
        raise RedisUrlError(
            f"the scheme must be redis://, rediss://, unix:// or {SENTINEL_SCHEME}://, not {scheme or 'none'!r}"
        )
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    sentinels = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RedisUrlError(f"each Sentinel must be host:port, not {item!r}")
        sentinels.append((host.strip("[]"), int(port)))
    path = [segment for segment in parts.path.split("/") if segment]
    if not path or len(path) > 2:
        raise RedisUrlError("the path must be /<service name>[/<db>], e.g. /mymaster/0")
    if len(path) == 2 and not path[1].isdigit():
        raise RedisUrlError(f"the database must be a number, not {path[1]!r}")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"sentinel_password"})
    if unknown:
        raise RedisUrlError(f"unknown query parameter(s): {', '.join(unknown)} (only sentinel_password)")
    return RedisTarget(
        url=url,
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [None])[0] or None,
    )


def connection_pool(url: str, **kwargs: Any) -> redis.ConnectionPool:
    """A pool of sealed connections to the primary REDIS_URL names (either form)."""
    target = parse_redis_url(url)
    if not target.is_sentinel:
        pool = redis.ConnectionPool.from_url(url, **kwargs)
        pool.connection_class = _sealed(pool.connection_class)
        return pool
    sentinel_kwargs = {
        key: kwargs[key] for key in ("socket_timeout", "socket_connect_timeout") if kwargs.get(key) is not None
    }
    if target.sentinel_password:
        sentinel_kwargs["password"] = target.sentinel_password
    manager = Sentinel(target.sentinels, sentinel_kwargs=sentinel_kwargs)
    if target.username:
        kwargs.setdefault("username", target.username)
    if target.password:
        kwargs.setdefault("password", target.password)
    return SentinelConnectionPool(
        target.service,
        manager,
        db=target.db,
        connection_class=_sealed(SentinelManagedConnection),
        **kwargs,
    )


def redis_client(url: str, **kwargs: Any) -> redis.Redis:
    """A client of the primary REDIS_URL names, for code that does not go through Django's cache."""
    return redis.Redis(connection_pool=connection_pool(url, **kwargs))


class SealedConnectionFactory(ConnectionFactory):
    """django-redis's factory, with our pools: the Django cache (and the rate limits, which use its
    client) accepts both URL forms and seals like every other connection."""

    def get_connection_pool(self, params: dict[str, Any]) -> redis.ConnectionPool:
        params = dict(params)
        url = params.pop("url")
        params.update(self.pool_cls_kwargs)
        return connection_pool(url, **params)


_sealed_classes: dict[type, type] = {}


def _sealed(base: type) -> type:
    if base not in _sealed_classes:
        _sealed_classes[base] = type(f"Sealed{base.__name__}", (_SealOnConnect, base), {})
    return _sealed_classes[base]


class _SealOnConnect:
    # The identity of the server this connection opened on (sealed): see `Mirror._renew`.
    gatehouse_epoch: str | None = None

    def on_connect_check_health(self, check_health: bool = True) -> None:
        super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
        self.gatehouse_epoch = seal(self)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except redis.ResponseError as exc:
            if not _deposed(exc):
                raise
            # Not (or no longer) a primary that may be used: a replica, or an old primary cut off
            # from the replica promoted in its place. Reconnect, which asks the Sentinels again;
            # meanwhile the caller treats Redis as down.
            self.disconnect()  # type: ignore[attr-defined]
            raise redis.ConnectionError(f"the server refuses writes (no longer the primary?): {exc}") from exc


def _deposed(exc: redis.ResponseError) -> bool:
    """A reply saying the server takes no writes now: a replica's READONLY (or its refusal of a
    script that may write), or NOREPLICAS (`min-replicas-to-write` unmet)."""
    text = str(exc)
    return (
        isinstance(exc, redis.exceptions.ReadOnlyError) or text.startswith("NOREPLICAS") or "readonly replica" in text
    )


# A read that only a server taking writes now answers: a script without the `no-writes` flag is
# refused, before it runs, by a replica and by a primary short of `min-replicas-to-write`. So a
# value that can hold back a revoke (an RBAC version token, a session marker) is never read from
# an old primary that a failover replaced but that some connections still reach (docs/rbac.md,
# "Failover"). It costs what an MGET costs; only reads that miss the process's copy make it.
_PRIMARY_MGET = "#!lua\nreturn redis.call('MGET', unpack(KEYS))"
_PRIMARY_MGET_SHA = hashlib.sha1(_PRIMARY_MGET.encode(), usedforsecurity=False).hexdigest()  # its EVALSHA name


def primary_get_many(keys: list[str]) -> dict[str, Any]:
    """`get_many(keys)` of Django's default cache, answered only by a server that would take a
    write now (a redis ConnectionError otherwise, like an outage). Any other cache backend (a
    test's process-local one): its own get_many."""
    from django.core.cache import caches
    from django_redis.cache import RedisCache

    # The backend itself: `django.core.cache.cache` is a proxy, which no isinstance sees through.
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return backend.get_many(keys)
    client = backend.client
    server = client.get_client(write=True)
    names = [client.make_key(key) for key in keys]
    try:
        raw = server.evalsha(_PRIMARY_MGET_SHA, len(names), *names)
    except redis.exceptions.NoScriptError:
        raw = server.eval(_PRIMARY_MGET, len(names), *names)
    return {key: client.decode(value) for key, value in zip(keys, raw, strict=True) if value is not None}


def retry_for(seconds: float, attempt: Callable[[], object]) -> bool:
    """Call `attempt` until it returns without raising (True) or `seconds` have passed (False);
    at least once. For a write Redis refused: each try takes a fresh connection if the last one
    was closed, which asks the Sentinels again."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            attempt()
            return True
        except Exception as exc:
            log.debug("redis still unavailable: %s", exc)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def failover_wait() -> float:
    """How long a revoke whose invalidation Redis refused keeps trying before it returns with the
    invalidation left to retries: long enough for a Sentinel failover (a new primary named and
    sealed) with REDIS_URL in the Sentinel form; with one server, a failed write means an outage,
    not a failover, and nothing is gained by waiting."""
    from django.conf import settings

    url = settings.REDIS_URL
    return SEAL_TIMEOUT if url and url.startswith(f"{SENTINEL_SCHEME}://") else 0.0


def _call(connection: Any, *args: Any) -> Any:
    connection.send_command(*args)
    reply = connection.read_response()
    return reply.decode() if isinstance(reply, bytes) else reply


def _info_field(connection: Any, section: str, name: str) -> str:
    for line in _call(connection, "INFO", section).splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise redis.ConnectionError(f"the server did not say its {name}")


def identity(connection: Any) -> str:
    """`run_id:master_replid`: a restart makes a new run_id (and may keep the replication id, read
    back from its snapshot); a promotion makes a new replication id (and keeps the run_id, e.g. a
    primary that was demoted, resynchronised from another and promoted again). A primary left
    without replicas for `repl-backlog-ttl` also takes a new replication id: one seal more, safe."""
    return f"{_info_field(connection, 'server', 'run_id')}:{_info_field(connection, 'replication', 'master_replid')}"


def seal(connection: Any) -> str:
    """Return once the server `connection` is open to is sealed (see the module's docstring), with
    its identity."""
    global _epoch
    server = identity(connection)
    _seal(connection, server)
    _epoch = server
    return server


def _seal(connection: Any, server: str) -> None:
    global seals
    epoch = _call(connection, "GET", EPOCH_KEY)
    if epoch == server:
        return
    if epoch is None:
        # A new or flushed Redis: no older data can come back, nothing to wait for.
        if _call(connection, "SET", EPOCH_KEY, server, "NX") or _call(connection, "GET", EPOCH_KEY) == server:
            return
        raise redis.ConnectionError("the epoch changed while it was being recorded")
    from project import mirror

    mine = uuid.uuid4().hex
    if not _call(connection, "SET", SEALING_KEY, mine, "NX", "PX", int(SEAL_TIMEOUT * 1000)):
        _await_seal(connection, server)
        return
    log.warning("redis: a new primary (%s, was %s): sealing it", server, epoch)
    # Copies renewed on the old primary stop being used within a lease; no connection to this
    # server is handed out meanwhile, so nothing is filed here from before the wait.
    time.sleep(mirror.LEASE + mirror.MARGIN)
    patterns = [_cache_key(pattern) for pattern in FORGOTTEN] + list(FORGOTTEN_RAW)
    deleted = 0
    for pattern in patterns:
        cursor = "0"
        while True:
            cursor, keys = _call(connection, "SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            cursor = cursor.decode() if isinstance(cursor, bytes) else cursor
            if keys:
                deleted += _call(connection, "UNLINK", *keys)
            if cursor == "0":
                break
    _call(connection, "SET", EPOCH_KEY, server)
    _call(connection, "DEL", SEALING_KEY)
    seals += 1
    log.warning("redis: sealed the new primary %s (%d keys forgotten)", server, deleted)


def _await_seal(connection: Any, server: str) -> None:
    deadline = time.monotonic() + SEAL_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if _call(connection, "GET", EPOCH_KEY) == server:
            return
        if _call(connection, "EXISTS", SEALING_KEY) == 0:
            raise redis.ConnectionError("the seal of a new primary was abandoned; retrying")
    raise redis.ConnectionError("the new primary was not sealed in time")


def _cache_key(pattern: str) -> str:
    from django.core.cache import caches

    try:
        return caches["default"].make_key(pattern)
    except Exception:  # not configured (a bare client): Django's default key function
        return f":1:{pattern}"
