"""A process's exact copy of a few small values kept in Redis: read with no round trip, and never
stale once a writer has returned.

Why: every RBAC check must see every revoke made anywhere (docs/rbac.md), so it used to read its
version tokens from Redis on every check: one network round trip, most of a warm check's cost
(docs/benchmarks.md, scenario 1); so did the session revocation check of every request
(auth.core.sessions). A process may instead answer from its own copy as long as no
writer can return while that copy still holds a value the writer replaced. This module keeps that
promise with leases and acknowledged invalidations:

- **Members.** A process subscribes to the mirror's channel, then registers in a sorted set with a
  lease (an expiry in Redis's clock, renewed every LEASE/4). It answers from its copy only while
  its lease, measured from before the renewal was sent, has not run out. A member whose lease has
  run out, or who finds it was evicted, or whose subscription broke, empties its copy and joins
  again from scratch.
- **Writers.** After changing values in Redis, a writer publishes the keys it changed with a fresh
  write id, in one script that also lists the live members (after the publish, so a member that
  registered before could not miss it). Each member that receives the message drops the keys from
  its copy, then pushes its id to the write's acknowledgement list. The writer waits until every
  live member, and as many members as the publish reached, have acknowledged. A member that has
  not within ACK_TIMEOUT is evicted, and the writer waits out the lease it held; receivers the
  writer cannot name (the member set was flushed) are waited out with a whole LEASE. When the
  writer returns, no copy anywhere holds a replaced value, or its owner has stopped using it.
- **Readers.** A value read from Redis is kept only if no invalidation arrived while it was being
  read (a generation counter), and only while the lease holds. `read_through` is that reader.

The assumption, stated plainly: clocks on the members' and Redis's hosts advance at the same rate
within MARGIN over a LEASE (true of NTP-slewed clocks; a clock stepped forward on the Redis host
by more than MARGIN could let a writer stop waiting for an unresponsive member early).

A write costs a publish and one acknowledgement per member (about a millisecond on a local
network); a member that died without leaving delays the first write after its death by at most
ACK_TIMEOUT + LEASE. Redis down: members cannot renew, so they stop answering from their copies
within a LEASE, and writers fail (the caller decides what a failed write means). A new primary
(a failover, or a restart from an older snapshot) is an outage too: its connections are handed out
only once project/redis_client.py has sealed it, a LEASE after the old primary's copies were last
renewed, with the member set and everything that could have gone backwards deleted.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis.cache import RedisCache
from redis.client import PubSub

from project.redis_client import EPOCH_KEY, connection_pool, redis_client

log = logging.getLogger(__name__)

LEASE = 2.0  # seconds a member may answer from its copy without hearing from Redis
RENEW_EVERY = LEASE / 4
MARGIN = 0.05  # seconds taken off each lease for clock-rate differences
ACK_TIMEOUT = 0.5  # seconds a writer waits for acknowledgements before evicting who has not
MAX_VALUES = 100_000  # a copy larger than this is emptied (it refills from Redis)

# KEYS: the member set, the epoch key. ARGV: member, lease (ms), first ("1"), the identity of the
# server the member's subscription is on: a lease is only taken where the invalidations arrive.
_REGISTER = """
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] ~= '1' then
  local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not held or tonumber(held) <= now then
    redis.call('ZREM', KEYS[1], ARGV[1])
    return 0
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""

# `#!lua` (a script that may write): refused before the PUBLISH by a server that takes no writes.
_PUBLISH = """#!lua
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reached = redis.call('PUBLISH', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return {reached, redis.call('ZRANGE', KEYS[1], 0, -1)}
"""

_EVICT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local latest = now
for _, member in ipairs(ARGV) do
  local held = redis.call('ZSCORE', KEYS[1], member)
  if held then
    redis.call('ZREM', KEYS[1], member)
    if tonumber(held) > latest then latest = tonumber(held) end
  end
end
return latest - now
"""


# Generations are unique in the process, across mirrors, and after a fork (the child's counter
# goes on from the parent's): a cache keyed by a generation can never match another copy's state.
_generations = itertools.count(1)


class _Subscription(PubSub):
    """redis-py reconnects a subscription by itself, and messages published meanwhile are lost:
    counting the connections lets the member notice and start again from an empty copy."""

    connects = 0

    def on_connect(self, connection) -> None:
        self.connects += 1
        super().on_connect(connection)


class _Restart(Exception):
    pass


class Mirror:
    """The copy of one Redis database's mirrored values in this process (one per pid)."""

    def __init__(self, url: str):
        self.url = url
        self._values: dict[str, Any] = {}
        self._generation = next(_generations)
        self._serving_until = 0.0  # time.monotonic(): the copy may be used before this
        # How many times this member stopped serving (an outage, an eviction, a broken
        # subscription): a reader that sees it change knows its copy was empty for a while.
        self.drops = 0
        self._lock = threading.Lock()
        self._client = redis_client(url, socket_connect_timeout=1, socket_timeout=1)
        db = self._client.connection_pool.connection_kwargs.get("db", 0)
        self._prefix = f"gatehouse:mirror:{db}"
        self.channel = f"{self._prefix}:invalidations"  # channels are not per database: say which
        self._members_key = f"{self._prefix}:members"
        self._register = self._client.register_script(_REGISTER)
        self._publish = self._client.register_script(_PUBLISH)
        self._evict = self._client.register_script(_EVICT)
        self.member_id = ""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="gatehouse-mirror")
        self._thread.start()
        atexit.register(self.close)

    # --- readers ---------------------------------------------------------------------------------

    def generation(self) -> int | None:
        """The copy's generation, to pass to `keep`; None when the copy may not be used now.
        It changes whenever anything in the copy is invalidated: a value derived from the copy
        under one generation is as current as the copy while the generation stays the same."""
        if time.monotonic() < self._serving_until:
            return self._generation
        return None

    def get(self, key: str) -> Any:
        """The copied value, or None. Only meaningful right after `generation()` was not None."""
        return self._values.get(key)

    def keep(self, generation: int, values: dict[str, Any]) -> None:
        """Copy values just read from Redis, unless an invalidation arrived since `generation`."""
        with self._lock:
            if generation != self._generation or time.monotonic() >= self._serving_until:
                return
            if len(self._values) + len(values) > MAX_VALUES:
                self._values.clear()
            self._values.update(values)

    # --- writers ---------------------------------------------------------------------------------

    def forget(self, keys: Iterable[str]) -> None:
        """Drop `keys` from this process's copy only, at once: for a writer inside a transaction,
        which changes them again after its commit and calls `invalidate` then (no process but this
        one can see the uncommitted change, and no other copy need be waited for while the
        transaction holds its locks)."""
        with self._lock:
            for key in keys:
                self._values.pop(key, None)
            self._generation = next(_generations)

    def invalidate(self, keys: Iterable[str] | None) -> None:
        """Call after changing `keys` in Redis (None: everything, e.g. after a FLUSHDB): returns
        once no member's copy holds their old values. Raises redis errors when Redis does not answer."""
        keys = None if keys is None else list(keys)
        write_id = uuid.uuid4().hex
        ack_key = f"{self._prefix}:ack:{write_id}"
        reached, live = self._publish(keys=[self._members_key], args=[self.channel, json.dumps([write_id, keys])])
        live = {member.decode() for member in live}
        acked: set[str] = set()
        deadline = time.monotonic() + ACK_TIMEOUT
        try:
            while not (live <= acked and len(acked) >= reached):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                popped = self._client.blpop([ack_key], timeout=min(left, 0.2))
                if popped is not None:
                    acked.add(popped[1].decode())
        finally:
            self._client.delete(ack_key)
        if live <= acked and len(acked) >= reached:
            return
        silent = sorted(live - acked)
        wait_ms = self._evict(keys=[self._members_key], args=silent) if silent else 0
        unnamed = reached - len(acked) - len(silent)
        wait = max(wait_ms / 1000, LEASE if unnamed > 0 else 0.0)
        log.warning(
            "mirror: %d member(s) did not acknowledge an invalidation within %.1fs (%d unnamed): "
            "evicted, waiting %.2fs for their leases to run out",
            len(silent),
            ACK_TIMEOUT,
            max(unnamed, 0),
            wait,
        )
        time.sleep(wait + MARGIN)

    # --- the member ------------------------------------------------------------------------------

    def _drop(self) -> None:
        with self._lock:
            self._serving_until = 0.0
            self._generation = next(_generations)
            self._values.clear()
            self.drops += 1

    def _run(self) -> None:
        backoff = 0.1
        failing = False
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._member()
            except Exception as exc:
                # Once per outage, not once per retry: readers go to Redis meanwhile.
                log.log(
                    logging.DEBUG if failing else logging.INFO,
                    "mirror: member restarting: %s: %s",
                    type(exc).__name__,
                    exc,
                )
                failing = isinstance(exc, redis.ConnectionError)
            self._drop()
            if time.monotonic() - started > 5:
                backoff, failing = 0.1, False
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 2.0)

    def _renew(self, *, first: bool, server: str | None) -> None:
        sent = time.monotonic()
        if not self._register(
            keys=[self._members_key, EPOCH_KEY],
            args=[self.member_id, int(LEASE * 1000), "1" if first else "0", server or ""],
        ):
            raise _Restart("evicted, the lease ran out, or not the server of the subscription")
        with self._lock:
            self._serving_until = sent + LEASE - MARGIN

    def _member(self) -> None:
        # A pool of its own: a connection the writers' pool already opened would not announce
        # itself to the subscription.
        pool = connection_pool(self.url, socket_connect_timeout=1, socket_timeout=None)
        subscription = _Subscription(pool, ignore_subscribe_messages=False)
        try:
            subscription.subscribe(self.channel)
            confirmed = subscription.get_message(timeout=2)
            if not confirmed or confirmed["type"] != "subscribe":
                raise _Restart(f"subscription not confirmed: {confirmed!r}")
            connects = subscription.connects  # any change from here on is a reconnect
            # Renewals go through the writers' pool, which may reach another server than the
            # subscription (a failover between the two connections): they check it does not.
            server = getattr(subscription.connection, "gatehouse_epoch", None)
            self.member_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            self._renew(first=True, server=server)
            renew_at = time.monotonic() + RENEW_EVERY
            while not self._stopping.is_set():
                message = subscription.get_message(timeout=max(renew_at - time.monotonic(), 0))
                if subscription.connects != connects:
                    raise _Restart("the subscription reconnected: messages may have been lost")
                if message is not None and message["type"] == "message":
                    self._apply(message["data"])
                if time.monotonic() >= renew_at:
                    self._renew(first=False, server=server)
                    renew_at = time.monotonic() + RENEW_EVERY
        finally:
            with contextlib.suppress(Exception):  # Redis is down: the lease runs out by itself
                self._client.zrem(self._members_key, self.member_id)
            subscription.close()
            pool.disconnect()

    def _apply(self, data: bytes) -> None:
        write_id, keys = json.loads(data)
        with self._lock:
            if keys is None:
                self._values.clear()
            for key in keys or ():
                self._values.pop(key, None)
            self._generation = next(_generations)
        ack_key = f"{self._prefix}:ack:{write_id}"
        with self._client.pipeline(transaction=False) as pipe:
            pipe.rpush(ack_key, self.member_id)
            pipe.expire(ack_key, 30)
            pipe.execute()

    def close(self) -> None:
        """Leave (at exit): writers stop waiting for this process at once, not after its lease."""
        self._stopping.set()
        self._drop()
        with contextlib.suppress(Exception):
            self._client.zrem(self._members_key, self.member_id)


def read_through(
    copy: Mirror | None,
    keys: Sequence[str],
    load: Callable[[int | None], dict[str, Any]],
    *,
    fresh: Callable[[Any], bool] = lambda kept: True,
) -> dict[str, Any]:
    """The values of `keys`: from `copy` when it is served and holds them all (and `fresh` says
    each kept value still may be used); else what `load(generation)` reads from Redis (leaving out
    what Redis does not hold; `generation` is None while the copy is not served), which is then
    kept unless an invalidation arrived meanwhile. What `load` raises is raised, nothing kept."""
    generation = None if copy is None else copy.generation()
    if generation is not None:
        kept = {key: copy.get(key) for key in keys}
        if all(value is not None and fresh(value) for value in kept.values()):
            return kept
    loaded = load(generation)
    if generation is not None and loaded:
        copy.keep(generation, loaded)
    return loaded


_mirrors: dict[tuple[int, str], Mirror] = {}
_mirrors_lock = threading.Lock()


def mirror_for(url: str) -> Mirror:
    """This process's mirror of the Redis database at `url`, started on first use (and again in
    a forked child: threads and connections do not survive fork)."""
    key = (os.getpid(), url)
    found = _mirrors.get(key)
    if found is None:
        with _mirrors_lock:
            found = _mirrors.get(key)
            if found is None:
                found = _mirrors[key] = Mirror(url)
    return found


_shared_memo: list[Mirror | None] = []  # decided once per process and cache configuration


def shared_mirror() -> Mirror | None:
    """The mirror of the database behind Django's default cache, when that cache is Redis; None
    with a process-local cache (embedded mode), which needs no copy."""
    if _shared_memo:
        return _shared_memo[0]
    backend = caches["default"]
    found = None
    if isinstance(backend, RedisCache):
        found = mirror_for(backend._server if isinstance(backend._server, str) else backend._server[0])
    _shared_memo[:] = [found]
    return found


@receiver(setting_changed)
def _forget_shared(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        _shared_memo.clear()


os.register_at_fork(after_in_child=_shared_memo.clear)
