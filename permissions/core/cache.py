"""Versioned caching of the engine's compiled data, and the invalidation that makes it safe.

Keys carry version tokens: a global one (roles, the registry, group assignments: anything that
can change many users' permissions at once) and one per user (the user's own assignments, group
memberships, deactivation). A write replaces the tokens it affects with fresh random ones, so an
entry compiled before the write is never found again: no entry is ever deleted or overwritten
to invalidate it. Tokens are random, not counters, so a token lost from the cache (eviction, a
Redis restart) is replaced by a new one instead of going back to a value old entries carry.

Readers: one `get_many` of the two tokens, then the entry from this process's memory (a small
LRU keyed by the same versioned key) or from the shared cache. docs/rbac.md has the argument why
no answer is stale once a revoke has returned.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction

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
        token = mine if cache.add(key, mine, None) else (cache.get(key) or mine)
    return token


def versions(user_id: uuid.UUID | None = None) -> tuple[str, str]:
    """The global token and the user's (empty without a user): one round trip when both exist."""
    keys = [GLOBAL_VERSION_KEY] if user_id is None else [GLOBAL_VERSION_KEY, _user_version_key(user_id)]
    found = cache.get_many(keys)
    global_version = _ensure(GLOBAL_VERSION_KEY, found)
    user_version = "" if user_id is None else _ensure(_user_version_key(user_id), found)
    return global_version, user_version


def _bump(user_ids: tuple[uuid.UUID, ...], everyone: bool) -> None:
    tokens = {_user_version_key(user_id): _token() for user_id in user_ids}
    if everyone:
        tokens[GLOBAL_VERSION_KEY] = _token()
    if tokens:
        cache.set_many(tokens, None)


def invalidate(*, user_ids: Iterable[uuid.UUID] = (), everyone: bool = False) -> None:
    """Make every cached answer for these users (or for everyone) unreachable.

    Inside a transaction the tokens are replaced now and again right after the commit: a reader
    between the two may compile from the not yet committed state and file it under the first new
    token, and the second replacement makes that entry unreachable too. The caller returns only
    after the second one, so no answer compiled from the old state is found after that.
    """
    user_ids = tuple(dict.fromkeys(user_ids))
    _bump(user_ids, everyone)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump(user_ids, everyone))


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
    value = cache.get(key)
    if value is None or not fresh(value):
        value = compute()
        cache.set(key, value, ENTRY_TTL)
    local.set(key, value)
    return value
