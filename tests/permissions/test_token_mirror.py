"""The per-process copy of the RBAC version tokens (project.mirror), against the real Redis and
other real processes: a warm check makes no round trip, and still no process answers with a
revoked grant once the revoke has returned — not one that stopped answering its subscription, not
after the member set was flushed."""

import json
import signal
import threading
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from permissions.core import cache as rbac_cache
from permissions.core import selectors, services
from permissions.interface import InvalidScope
from project import mirror as mirror_module
from tests.support.children import COUNTING_REDIS_COMMANDS, LineChild
from tests.support.rbac import new_user

from .conftest import grant, role

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

CHILD = (
    COUNTING_REDIS_COMMANDS
    + """
from permissions.core import cache as rbac_cache
from permissions.interface import permission_service

for line in sys.stdin:
    command, *args = line.split()
    if command == "serving":
        copy = rbac_cache.mirror()
        print(f"{copy is not None and copy.generation() is not None} {(copy.member_id if copy else '') or '-'}", flush=True)
        continue
    user, permission, scope = args
    before = sent["n"]
    answer = permission_service.check(user_id=uuid.UUID(user), permission=permission, scope=None if scope == "-" else scope)
    print(f"{'yes' if answer else 'no'} {sent['n'] - before}", flush=True)
"""
)


class Child(LineChild):
    """Another process, with its own copy of the tokens."""

    def __init__(self):
        super().__init__(CHILD)

    def check(self, user_id: uuid.UUID, permission: str, scope: str | None = None) -> tuple[bool, int]:
        """The answer, and the Redis commands the check sent."""
        answer, sent = self.ask(f"check {user_id} {permission} {scope or '-'}")
        assert answer in ("yes", "no"), answer
        return answer == "yes", int(sent)

    def wait_serving(self, timeout: float = 15.0) -> str:
        """Until its copy may be used; returns its member id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            serving, member = self.ask("serving")
            if serving == "True":
                return member
            time.sleep(0.05)
        raise AssertionError("the child's copy never started serving")


@pytest.fixture
def child():
    process = Child()
    yield process
    process.stop()


def members() -> set[str]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    copy = rbac_cache.mirror()
    return {member.decode() for member in client.zrange(copy._members_key, 0, -1)}


def wait_serving_here(timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while rbac_cache.mirror().generation() is None:
        assert time.monotonic() < deadline, "this process's copy never started serving"
        time.sleep(0.02)


def test_a_warm_check_makes_no_redis_round_trip_and_a_revoke_still_shows_at_once(codes, child):
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    assignment = grant(reader, user_id=user, scope="org:acme")
    child.wait_serving()
    assert child.check(user, "docs.page.read", "org:acme/p:1")[0]  # cold: tokens, entry, queries
    warm = [child.check(user, "docs.page.read", "org:acme/p:1") for _ in range(20)]
    print(f"\nRedis commands per warm check in the other process: {[sent for _, sent in warm]}")
    assert warm == [(True, 0)] * 20

    services.revoke_assignment(actor_id=None, assignment_id=assignment.id)

    assert child.check(user, "docs.page.read", "org:acme/p:1")[0] is False
    assert selectors.check(user_id=user, permission="docs.page.read", scope="org:acme/p:1") is False


def test_a_stopped_process_is_evicted_before_the_revoke_returns_and_denies_when_it_resumes(codes, child, monkeypatch):
    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user)
    member = child.wait_serving()
    assert child.check(user, "docs.page.read")[0]
    assert child.check(user, "docs.page.read") == (True, 0)  # answered from its copy
    assert member in members()

    child.popen.send_signal(signal.SIGSTOP)  # alive, subscribed, but answering nothing
    try:
        started = time.monotonic()
        services.revoke_assignment(actor_id=None, assignment_id=assignment.id)
        took = time.monotonic() - started
        print(f"\nrevoke with a stopped member returned after {took:.2f}s (ack timeout {mirror_module.ACK_TIMEOUT}s)")
        assert member not in members(), "the silent member was not evicted"
    finally:
        child.popen.send_signal(signal.SIGCONT)

    assert child.check(user, "docs.page.read")[0] is False
    child.wait_serving()  # it joins again, with an empty copy
    assert child.check(user, "docs.page.read")[0] is False


def test_a_revoke_right_after_the_member_set_was_flushed_is_still_seen_everywhere(codes, child):
    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user)
    child.wait_serving()
    assert child.check(user, "docs.page.read")[0]
    assert child.check(user, "docs.page.read") == (True, 0)

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # tokens and members gone, copies intact
    services.revoke_assignment(actor_id=None, assignment_id=assignment.id)

    assert child.check(user, "docs.page.read")[0] is False


def test_a_value_read_while_an_invalidation_arrived_is_not_kept():
    copy = rbac_cache.mirror()
    wait_serving_here()
    key = f"test:mirror:{uuid.uuid4().hex}"
    generation = copy.generation()
    copy.invalidate([key])  # another writer replaced it while this reader was reading the old value
    copy.keep(generation, {key: "old"})
    assert copy.get(key) is None

    generation = copy.generation()
    copy.keep(generation, {key: "current"})
    assert copy.get(key) == "current"
    copy.invalidate([key])
    assert copy.get(key) is None


def test_a_subscriber_the_writer_cannot_name_is_waited_out_for_a_whole_lease(monkeypatch):
    monkeypatch.setattr(mirror_module, "LEASE", 0.6)
    monkeypatch.setattr(mirror_module, "ACK_TIMEOUT", 0.2)
    copy = rbac_cache.mirror()
    wait_serving_here()
    silent = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    silent.subscribe(copy.channel)  # receives invalidations, never acknowledges, is no member
    assert silent.get_message(timeout=2)["type"] == "subscribe"
    try:
        started = time.monotonic()
        copy.invalidate([f"test:mirror:{uuid.uuid4().hex}"])
        took = time.monotonic() - started
    finally:
        silent.close()
    print(f"\ninvalidation with an unnamed silent subscriber returned after {took:.2f}s (lease 0.6s)")
    assert took >= 0.6, "the writer returned while a copy it could not name might still be in use"


def test_a_flush_from_the_test_fixture_reaches_every_copy(codes, child):
    # What tests/conftest.py relies on between tests: invalidate(None) empties every copy.
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user)
    child.wait_serving()
    child.check(user, "docs.page.read")
    assert child.check(user, "docs.page.read") == (True, 0)
    cache.clear()
    rbac_cache.mirror().invalidate(None)
    assert child.check(user, "docs.page.read")[1] > 0  # read from Redis again


def test_checks_in_threads_never_see_a_revoked_grant_after_the_revoke_returned(codes):
    # Readers in this process race the writer; an answer that started after the revoke returned
    # must deny, whatever the other threads' copies and answer cache held.
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    wait_serving_here()
    stale: list[int] = []
    stop = threading.Event()
    revoked_at: list[float] = []

    def read():
        try:
            while not stop.is_set():
                started = time.monotonic()
                allowed = selectors.check(user_id=user, permission="docs.page.read", scope="org:acme/x:1")
                if allowed and revoked_at and started > revoked_at[-1]:
                    stale.append(1)
        finally:
            connection.close()  # back to the pool

    for _ in range(10):
        revoked_at.clear()
        assignment = grant(reader, user_id=user, scope="org:acme")
        threads = [threading.Thread(target=read) for _ in range(3)]
        stop.clear()
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        services.revoke_assignment(actor_id=None, assignment_id=assignment.id)
        revoked_at.append(time.monotonic())
        time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join()
    assert stale == []


def test_check_many_answers_from_the_kept_answers_and_still_sees_a_revoke_at_once(codes, monkeypatch):
    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user, scope="org:acme")
    wait_serving_here()
    asked = [("docs.page.read", "org:acme/p:1"), ("docs.page.read", "org:other"), ("docs.page.write", "/org:acme/")]
    assert selectors.check_many(user_id=user, checks=asked) == [True, False, False]

    sent = []
    me = threading.get_ident()
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, *args, **kwargs):
        if threading.get_ident() == me:
            sent.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    assert selectors.check_many(user_id=user, checks=asked) == [True, False, False]
    assert sent == [], "a warm batch went to Redis"
    # Kept and new questions in one batch; a bad scope anywhere is refused, kept answers or not.
    assert selectors.check_many(user_id=user, checks=[*asked, ("docs.page.read", "org:acme/p:2")]) == [
        True,
        False,
        False,
        True,
    ]
    with pytest.raises(InvalidScope):
        selectors.check_many(user_id=user, checks=[*asked, ("docs.page.read", "not a scope")])

    services.revoke_assignment(actor_id=None, assignment_id=assignment.id)

    assert selectors.check_many(user_id=user, checks=asked) == [False, False, False]


def test_a_revoke_waits_for_the_other_copies_after_its_commit_not_while_holding_its_locks(codes, monkeypatch):
    # A member that acknowledges only when this test says so stands for a stopped process. The
    # revoke must not return before it acknowledges, but its transaction must be committed, its
    # row locks released, while it waits: another writer of the same group is not held up.
    from permissions.models import Group, GroupMembership

    monkeypatch.setattr(mirror_module, "ACK_TIMEOUT", 60.0)
    copy = rbac_cache.mirror()
    wait_serving_here()
    user = new_user()
    group = services.create_group(actor_id=None, name="readers")
    grant(role("reader", ["docs.page.read"]), group=group)
    services.add_group_member(actor_id=None, group_id=group.id, user_id=user)
    assert selectors.check(user_id=user, permission="docs.page.read")

    client = redis.Redis.from_url(settings.REDIS_URL)
    held = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    held.subscribe(copy.channel)
    assert held.get_message(timeout=2)["type"] == "subscribe"
    member_id = f"test-held-{uuid.uuid4().hex[:8]}"
    seconds, micros = client.time()
    client.zadd(copy._members_key, {member_id: seconds * 1000 + micros // 1000 + 120_000})

    failures = []

    def revoke():
        try:
            services.remove_group_member(actor_id=None, group_id=group.id, user_id=user)
        except Exception as exc:  # reported to the test below
            failures.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=revoke)
    write_id = None
    writer.start()
    try:
        message = held.get_message(timeout=10)
        while message is not None and message["type"] != "message":
            message = held.get_message(timeout=10)
        assert message is not None, "the revoke published no invalidation"
        write_id, _keys = json.loads(message["data"])

        # The writer now waits for this member. Its locks must be free, its change committed.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '10s'")
            Group.objects.select_for_update().get(id=group.id)
        assert not GroupMembership.objects.filter(group_id=group.id, user_id=user).exists()
        assert writer.is_alive(), "the revoke returned before every copy had acknowledged"
    finally:
        if write_id is not None:
            client.rpush(f"{copy._prefix}:ack:{write_id}", member_id)
        writer.join(timeout=30)
        held.close()
        client.zrem(copy._members_key, member_id)
    assert not writer.is_alive() and not failures, failures
    assert selectors.check(user_id=user, permission="docs.page.read") is False
