"""The cached unread count of each inbox, kept exact by version tokens.

The count is cached under a key that carries the user's version token. Every change to the inbox
(a new message, a message read, all read) replaces the token with a fresh random one after its
transaction commits, so a count computed before the change is never found again. A reader takes
the token before it counts, so a count it caches is never older than the token it is filed
under. Tokens are random, not counters: a token lost from the cache is replaced by a new one, never
by a value that old entries carry. If the cache is unreachable the count comes from the database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

COUNT_TTL = 300  # seconds; also bounds the life of a count whose invalidation was lost to a crash


def _version_key(user_id: uuid.UUID) -> str:
    return f"notif:unread:v:{user_id}"


def cached_count(user_id: uuid.UUID, compute: Callable[[], int]) -> int:
    try:
        version_key = _version_key(user_id)
        token = cache.get(version_key)
        if token is None:
            cache.add(version_key, uuid.uuid4().hex, timeout=None)
            token = cache.get(version_key)
        count_key = f"notif:unread:{user_id}:{token}"
        count = cache.get(count_key)
    except Exception:
        log.warning("the cache is unreachable: unread count from the database", exc_info=True)
        return compute()
    if count is None:
        count = compute()
        try:
            cache.set(count_key, count, timeout=COUNT_TTL)
        except Exception:
            log.warning("the cache is unreachable: unread count not cached", exc_info=True)
    return count


def _bump(user_ids: Iterable[uuid.UUID]) -> None:
    try:
        cache.set_many({_version_key(user_id): uuid.uuid4().hex for user_id in user_ids}, timeout=None)
    except Exception:
        log.warning("the cache is unreachable: unread counts may be stale for %d s", COUNT_TTL, exc_info=True)


def invalidate_on_commit(user_ids: Iterable[uuid.UUID]) -> None:
    """Make every cached count of these users stale once the current transaction commits."""
    user_ids = list(user_ids)
    if user_ids:
        transaction.on_commit(lambda: _bump(user_ids))
