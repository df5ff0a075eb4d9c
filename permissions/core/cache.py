"""Versioned caching of the engine's compiled data, and the invalidation that makes it safe.

Keys carry version tokens: a global one (roles, the registry, group assignments: anything that
can change many users' permissions at once) and one per user (the user's own assignments, group
memberships, deactivation). A write replaces the tokens it affects with fresh random ones, so an
entry compiled before the write is never found again: no entry is ever deleted or overwritten
to invalidate it. Tokens are random, not counters, so a token lost from the cache (eviction, a
Redis restart) is replaced by a new one instead of going back to a value old entries carry.

Readers: the two tokens from this process's copy (project.mirror: kept exact by leases and
acknowledged invalidations, so a warm check makes no round trip at all), or one `get_many` when the
copy lacks them; then the entry from this process's memory (a small LRU keyed by the same versioned
key) or from the shared cache. Writers return only once every process's copy has dropped the tokens
they replaced. docs/rbac.md has the argument why no answer is stale once a revoke has returned.

When the shared cache does not answer: readers compute from the database (right, slower) and
neither read nor fill any cache layer, since they cannot know the current tokens; a write whose
tokens cannot be replaced before its commit is refused (`CacheUnavailable`, a 503: the change is
rolled back, so no entry that answers with the old grant can outlive it); a replacement that fails
after the commit (the cache went down in between) is retried in the background until the cache
answers, and the entries it misses expire after ENTRY_TTL in any case.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from project import mirror as mirrors
from project.kernel.errors import ServiceUnavailable
from project.mirror import Mirror, shared_mirror
from project.redis_client import failover_wait, primary_get_many, retry_for

logger = logging.getLogger(__name__)

GLOBAL_VERSION_KEY = "rbac:gv"
ENTRY_TTL = 300  # seconds; also bounds the life of an entry whose invalidation was lost to a crash
LOCAL_MAX_ENTRIES = 10_000


def _user_version_key(user_id: uuid.UUID) -> str:
    return f"rbac:uv:{user_id}"


def _token() -> str:
    return uuid.uuid4().hex


def _ensure(key: str, found: dict[str, Any]) -> str:
    token = found.get(key)
    if token is None:
        mine = _token()
        # Another reader may have set one meanwhile: everyone must use the same, so re-read it.
        token = mine if cache.add(key, mine, None) else (primary_get_many([key]).get(key) or mine)
    return token


class CacheUnavailable(ServiceUnavailable):
    code = "rbac_cache_unavailable"
    default_message = "The permission cache is unavailable, so the change was not made; retry shortly."


# This process's copy of the tokens (None with a process-local cache, read without a round trip
# anyway).
mirror: Callable[[], Mirror | None] = shared_mirror


def versions(user_id: uuid.UUID | None = None) -> tuple[str, str] | None:
    """The global token and the user's (empty without a user): from this process's copy, else one
    round trip when both exist. None when the shared cache does not answer: compute from the
    database, cache nothing."""
    if not settings.REDIS_URL:
        # Embedded mode (issue 14, item 5): the cache is this process's own, so a revoke made by
        # another process on the same database (`manage.py rbac revoke`, an embedded `grpcserve`)
        # could never replace the tokens here. The database answers every check, as it does for
        # sessions in this mode: slower, and right across runserver, manage.py and grpcserve.
        return None
    user_key = None if user_id is None else _user_version_key(user_id)
    keys = [GLOBAL_VERSION_KEY] if user_key is None else [GLOBAL_VERSION_KEY, user_key]
    copy = mirror()

    def load(generation: int | None) -> dict[str, str]:
        # Without a current copy: first apply what a revoke during an outage could not (the cache
        # may be back with the old tokens in it). One indexed query on this path only.
        if copy is not None and _may_have_missed_a_revoke(copy, generation):
            apply_pending()
        # Only from a server that would take a write now (project.redis_client.primary_get_many):
        # an old primary a failover replaced may still answer with the tokens a revoke replaced.
        found = primary_get_many(keys)
        return {key: _ensure(key, found) for key in keys}

    try:
        found = mirrors.read_through(copy, keys, load)
    except Exception:
        logger.warning("permission cache unavailable: answering from the database", exc_info=True)
        return None
    return found[GLOBAL_VERSION_KEY], "" if user_key is None else found[user_key]


def _bump(user_ids: tuple[uuid.UUID, ...], everyone: bool, *, wait: bool = True) -> None:
    """Replace the tokens. `wait`: return once no process's copy holds the old ones; without it,
    only this process's copy drops them (inside a transaction, whose commit replaces them again
    and waits then: other writers are not kept waiting on its row locks meanwhile)."""
    tokens = {_user_version_key(user_id): _token() for user_id in user_ids}
    if everyone:
        tokens[GLOBAL_VERSION_KEY] = _token()
    if tokens:
        cache.set_many(tokens, None)
        copy = mirror()
        if copy is not None:
            if wait:
                copy.invalidate(tokens)
            else:
                copy.forget(tokens)


def invalidate(*, user_ids: Iterable[uuid.UUID] = (), everyone: bool = False, revoking: bool = False) -> None:
    """Make every cached answer for these users (or for everyone) unreachable.

    Inside a transaction the tokens are replaced now and again right after the commit: a reader
    between the two may compile from the not yet committed state and file it under the first new
    token, and the second replacement makes that entry unreachable too. The caller returns only
    after the second one, and only once no process's copy holds any token it replaced, so no answer
    compiled from the old state is found after that. The wait for the other processes' copies
    comes after the commit: inside the transaction it would hold the write's row locks for as long
    as a stopped process takes to be evicted (up to ACK_TIMEOUT + LEASE).

    When the cache does not answer, a write that can only take access away (`revoking`) goes
    ahead: a stale deny is harmless, and an administrator cutting off a compromised account must
    not wait for the cache. Its tokens are recorded as pending in the same transaction (applied as
    soon as the cache answers, before anyone reads the old tokens again) and the write returns only
    after a lease, when no process's copy of the old tokens is used any more. Any other write is
    refused (CacheUnavailable, 503) and rolled back.
    """
    user_ids = tuple(dict.fromkeys(user_ids))
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        _bump(user_ids, everyone, wait=not in_transaction)
    except Exception as exc:
        if not revoking:
            raise CacheUnavailable() from exc
        logger.warning(
            "permission cache unavailable: the revoke goes ahead, its invalidation is pending", exc_info=True
        )
        _defer(user_ids, everyone)
        return
    if in_transaction:
        transaction.on_commit(lambda: _bump_or_retry(user_ids, everyone))


def _defer(user_ids: tuple[uuid.UUID, ...], everyone: bool) -> None:
    from permissions.interface import CACHE_INVALIDATION_PENDING, SERVICE_NAME
    from permissions.models import PendingInvalidation
    from project.events.outbox import outbox_record

    PendingInvalidation.objects.create(user_ids=[str(user_id) for user_id in user_ids], everyone=everyone)
    if transaction.get_connection().in_atomic_block:
        outbox_record(type=CACHE_INVALIDATION_PENDING, producer=SERVICE_NAME, payload={})
        transaction.on_commit(_after_deferred)
    else:
        _after_deferred()


def _after_deferred() -> None:
    """Apply the pending invalidation as soon as the cache answers, trying for a lease; then
    return. By then either it is applied, or the cache did not answer for a whole lease: every
    process's copy has stopped being served and was dropped, and a process that serves again asks
    the database for pending invalidations first (`_may_have_missed_a_revoke`)."""
    copy = mirror()
    # During a failover: until the new primary takes the replacement (project.redis_client).
    wait = max(mirrors.LEASE + mirrors.MARGIN, failover_wait()) if copy is not None else 0
    if retry_for(wait, apply_pending):
        return
    logger.error("permission cache still unavailable after a revoke: retrying in the background")
    threading.Thread(target=_retry_pending, daemon=True, name="rbac-pending").start()


def apply_pending() -> int:
    """Replace the tokens of every pending invalidation, then forget them; returns how many were
    applied. Raises if the cache does not answer (they stay pending)."""
    from permissions.models import PendingInvalidation

    rows = list(PendingInvalidation.objects.order_by("id")[:1000])
    if not rows:
        return 0
    users = tuple(dict.fromkeys(uuid.UUID(user_id) for row in rows for user_id in row.user_ids))
    _bump(users, any(row.everyone for row in rows))
    PendingInvalidation.objects.filter(id__in=[row.id for row in rows]).delete()
    logger.warning("pending permission cache invalidations applied: %d", len(rows))
    return len(rows)


_drops_seen = -1


def _may_have_missed_a_revoke(copy: Mirror, generation: int | None) -> bool:
    """Whether revokes made during a cache outage may still be pending here: this process's copy is
    not being served, or it stopped being served since this was last asked (the cache may have
    come back with the old tokens in it). Then, and only then, the database is asked (one query);
    a process that kept its copy all along was reached by every write that returned."""
    global _drops_seen
    if generation is not None and copy.drops == _drops_seen:
        return False
    from permissions.models import PendingInvalidation

    pending = PendingInvalidation.objects.exists()
    if not pending and generation is not None:
        _drops_seen = copy.drops
    return pending


def _retry_pending() -> None:
    deadline = time.monotonic() + ENTRY_TTL
    attempt = 0
    while time.monotonic() < deadline:
        time.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
        attempt += 1
        try:
            apply_pending()
        except Exception as exc:
            logger.debug("permission cache still unavailable: %s", exc)
            continue
        return


RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def _bump_or_retry(user_ids: tuple[uuid.UUID, ...], everyone: bool) -> None:
    # During a failover the replacement must reach the new primary before the write returns: an
    # entry compiled there from the database before the commit is filed under a token only this
    # replacement makes unreachable. A refused write reconnects, asking the Sentinels again.
    if retry_for(failover_wait(), lambda: _bump(user_ids, everyone)):
        return
    logger.error("permission cache unavailable after a commit: retrying the invalidation")
    threading.Thread(target=_retry_bump, args=(user_ids, everyone), daemon=True, name="rbac-invalidate").start()
    if mirror() is not None:
        # Copies may hold the first replacement's tokens, read before the commit; a copy that
        # cannot reach Redis stops being used within a lease: the write returns after that.
        time.sleep(mirrors.LEASE + mirrors.MARGIN)


def _retry_bump(user_ids: tuple[uuid.UUID, ...], everyone: bool) -> None:
    deadline = time.monotonic() + ENTRY_TTL  # after that every entry it could miss has expired
    attempt = 0
    while time.monotonic() < deadline:
        time.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
        attempt += 1
        try:
            _bump(user_ids, everyone)
        except Exception as exc:
            logger.debug("permission cache still unavailable: %s", exc)
            continue
        logger.warning("permission cache invalidation applied after %d retries", attempt)
        return


class _LocalLayer:
    """This process's copy of entries, under the same versioned keys: it saves the transfer and
    unpickling of an entry, never a version check."""

    def __init__(self, max_entries: int):
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


local = _LocalLayer(LOCAL_MAX_ENTRIES)


def cached(key: str, compute: Callable[[], Any], *, fresh: Callable[[Any], bool] = lambda value: True) -> Any:
    """The entry under the versioned `key`: from memory, the shared cache, or `compute()`."""
    value = local.get(key)
    if value is not None and fresh(value):
        return value
    try:
        value = cache.get(key)
    except Exception:  # went down after the versions were read: answer without it
        return compute()
    if value is None or not fresh(value):
        value = compute()
        try:
            cache.set(key, value, ENTRY_TTL)
        except Exception:
            return value  # not in this process's layer either: the tokens may be changing unseen
    local.set(key, value)
    return value
