"""Sessions and the revocation check that every authenticated request makes.

The check costs one cache read when warm. Revoked sessions are written to the cache as "r" with
`set` (overwrites); live ones as "a" with `add` (never overwrites). So a check that read the
database just before a revoke cannot put "a" back over the revoke's "r": whatever order the two
processes run in, once the revoke has returned no check answers with the session alive.
(The marker is written before the commit; if the transaction then rolls back, the session reads
as revoked until the marker expires: a logout nobody asked for, never a login nobody made.) When the
cache is unreachable the check reads the database. A revoke that could not reach the cache is
written there again by the `auth.session_revoked` event's handler, with retries, once it is back.

Each process also keeps a copy of the markers it read (project.mirror, as for the RBAC version
tokens): a warm check makes no round trip. A revoke writes its markers before its commit and again
after it, and returns only once no process's copy holds the session's old marker; a copy holds an
"alive" marker no longer than the cache would (ALIVE_MARKER_SECONDS). A revoke that could not reach
the cache keeps trying for as long as a Sentinel failover takes (docs/rbac.md, "Failover"), then
waits out a lease before it returns: by then no copy that cannot reach Redis either is used any more.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.utils import timezone
from django_redis.cache import RedisCache

from auth.interface import SERVICE_NAME, SESSION_REVOKED, SessionNotFound
from auth.models import Session
from project import mirror as mirrors
from project import redis_client
from project.events.outbox import outbox_record

log = logging.getLogger(__name__)

ALIVE, REVOKED = "a", "r"
ALIVE_MARKER_SECONDS = 60


def _key(session_id: uuid.UUID | str) -> str:
    return f"auth:sid:{session_id}"


def _marker_ttl() -> int:
    # Long enough to outlive every access token of the session.
    return settings.GATEHOUSE_ACCESS_TOKEN_TTL + settings.GATEHOUSE_TOKEN_LEEWAY + 60


def _shared_cache() -> bool:
    # A process-local cache (embedded mode) cannot carry a revoke to other processes: a marker
    # there could say "alive" after another process revoked. Without a shared cache, ask the database.
    return bool(settings.REDIS_URL)


def session_is_alive(session_id: uuid.UUID) -> bool:
    if not _shared_cache():
        return _alive_in_database(session_id)
    key = _key(session_id)
    try:
        # Only what Redis holds is copied, never a database answer.
        found = mirrors.read_through(mirrors.shared_mirror(), [key], lambda _: _copied_marker(key), fresh=_fresh)
    except Exception:  # the cache is down: the database answers, slower but right
        log.warning("session cache unavailable; checking the database", exc_info=True)
        return _alive_in_database(session_id)
    if found:
        return found[key][0] == ALIVE
    # Taken before the database is read: the marker goes only to that primary. After a failover
    # the new one may lack the "r" of a revoke that committed after this read (docs/rbac.md).
    epoch = redis_client.current_epoch()
    alive = _alive_in_database(session_id)
    try:
        if alive:
            # Short-lived: should a revoke ever miss the cache (it was cut off, not restarted, for
            # longer than the event retries), a stale "alive" outlives it by at most this much.
            _add_alive_marker(session_id, epoch)
        else:
            cache.set(_key(session_id), REVOKED, _marker_ttl())
    except Exception:
        log.warning("session cache unavailable; marker not written", exc_info=True)
    return alive


def _add_alive_marker(session_id: uuid.UUID, epoch: str | None) -> None:
    backend = caches["default"]  # not the `cache` proxy, which no isinstance sees through
    if not isinstance(backend, RedisCache):  # a test's process-local cache
        backend.add(_key(session_id), ALIVE, ALIVE_MARKER_SECONDS)
        return
    client = backend.client
    redis_client.add_if_epoch(
        client.get_client(write=True),
        client.make_key(_key(session_id)),
        client.encode(ALIVE),
        ALIVE_MARKER_SECONDS,
        epoch,
    )


def _copied_marker(key: str) -> dict[str, tuple[str, float | None]]:
    """The marker Redis holds, as the process's copy keeps it: with the time an "alive" one
    expires from the copy (a "revoked" one never changes back)."""
    # Only from a server that would take a write now: an old primary a failover replaced may
    # still answer some connections, with an "alive" that a revoke replaced on the new one.
    marker = redis_client.primary_get_many([key]).get(key)
    if marker is None:
        return {}
    return {key: (marker, time.monotonic() + ALIVE_MARKER_SECONDS if marker == ALIVE else None)}


def _fresh(kept: tuple[str, float | None]) -> bool:
    return kept[1] is None or time.monotonic() < kept[1]


def _alive_in_database(session_id: uuid.UUID) -> bool:
    return Session.objects.filter(id=session_id, revoked_at__isnull=True, expires_at__gt=timezone.now()).exists()


def mark_revoked_in_cache(session_ids: list[uuid.UUID]) -> None:
    """Returns once no process's copy holds the old markers. Raises if the cache is down (the
    event handler relies on that to retry)."""
    markers = {_key(sid): REVOKED for sid in session_ids}
    cache.set_many(markers, _marker_ttl())
    copy = mirrors.shared_mirror()
    if copy is not None:
        copy.invalidate(markers)


def session_open(*, user_id: uuid.UUID, ip: str, user_agent: str, **oidc) -> Session:
    """`oidc`: kind, client_id, scope, parent, auth_time of an OpenID Connect session."""
    session = session_new(user_id=user_id, ip=ip, user_agent=user_agent, **oidc)
    session.save(force_insert=True)
    return session


def session_new(*, user_id: uuid.UUID, ip: str, user_agent: str, **oidc) -> Session:
    """The session `session_open` writes, not saved yet (its id is already set), for a caller that
    writes it together with other rows (project.writes)."""
    now = timezone.now()
    return Session(
        user_id=user_id,
        last_used_at=now,
        expires_at=now + timedelta(seconds=settings.GATEHOUSE_REFRESH_TOKEN_TTL),
        ip=ip or None,
        user_agent=user_agent[:512],
        auth_time=oidc.pop("auth_time", now),
        **oidc,
    )


def sessions_revoke(sessions, *, reason: str) -> list[uuid.UUID]:
    """Revoke the given sessions (a queryset) in the current transaction; the cache is told at
    once and again by the event handler. Returns the ids revoked."""
    rows = list(sessions.filter(revoked_at__isnull=True).values_list("id", "user_id"))
    if not rows:
        return []
    # The grants OpenID Connect clients hold under a browser (SSO) session end with it.
    children = list(
        Session.objects.filter(parent_id__in=[sid for sid, _ in rows], revoked_at__isnull=True).values_list(
            "id", "user_id"
        )
    )
    rows += [row for row in children if row not in rows]
    ids = [session_id for session_id, _ in rows]
    Session.objects.filter(id__in=ids).update(revoked_at=timezone.now(), revoke_reason=reason)
    for user_id in sorted({user_id for _, user_id in rows}):
        outbox_record(
            type=SESSION_REVOKED,
            producer=SERVICE_NAME,
            payload={
                "user_id": str(user_id),
                "session_ids": [str(sid) for sid, owner in rows if owner == user_id],
                "reason": reason,
            },
        )

    # Told before the commit too: a check in this process, or one in another whose copy did not
    # hold the session, already denies between this line and the commit, which errs on the safe
    # side. The other processes' copies are told after it (no lock held while they acknowledge).
    markers = {_key(sid): REVOKED for sid in ids}
    try:
        cache.set_many(markers, _marker_ttl())
    except Exception:
        log.warning("could not mark revoked sessions in the cache: trying again after the commit", exc_info=True)
    copy = mirrors.shared_mirror()
    if copy is not None:
        copy.forget(markers)  # this process's copy only: no round trip, no wait
    transaction.on_commit(lambda: _mark_revoked_after_commit(ids))
    return ids


def _mark_revoked_after_commit(session_ids: list[uuid.UUID]) -> None:
    """The markers again, and every copy told, after the commit and before the revoke returns.

    After the commit because of a failover: a check that read the database before the commit may
    file "alive" on a new primary (its epoch is the new one's), which may lack the marker written
    before the commit; only a "revoked" written there after the commit overwrites it. A refused
    write reconnects, asking the Sentinels again: with the Sentinel form of REDIS_URL this tries
    for as long as a failover takes. Then, or at once with one server (an outage), the revoke
    returns a lease later, when no copy that cannot reach Redis is used any more; the
    `auth.session_revoked` event's handler writes the markers once Redis answers."""
    if redis_client.retry_for(redis_client.failover_wait(), lambda: mark_revoked_in_cache(session_ids)):
        return
    log.error("could not mark revoked sessions in the cache; the event handler will")
    if _shared_cache() and mirrors.shared_mirror() is not None:
        # Copies may hold "alive"; one that cannot reach Redis stops being used within a lease.
        time.sleep(mirrors.LEASE + mirrors.MARGIN)


def session_of_user(*, user_id: uuid.UUID, session_id: uuid.UUID) -> Session:
    try:
        return Session.objects.get(id=session_id, user_id=user_id)
    except Session.DoesNotExist:
        raise SessionNotFound() from None


def list_sessions(*, user_id: uuid.UUID) -> list[Session]:
    return list(
        Session.objects.filter(user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()).order_by(
            "-last_used_at"
        )
    )
