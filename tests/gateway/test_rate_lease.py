"""Quota leasing of the per-user rate limit (issue 24; docs/operations.md, Edge policy).

The arithmetic is tested here against an in-memory stand-in for the shared Redis count (the same
INCRBY semantics as gateway.edge.RedisCounter); test_rate_lease_stack.py runs it with several real
processes against the real Redis.
"""

from __future__ import annotations

import pytest
import redis
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gateway import edge
from tests.support.processes import free_port

PERIOD = 60


class SharedCount:
    """What RedisCounter.hit does, in memory: add, return the new count and the window's rest."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.round_trips = 0

    def hit(self, key: str, weight: int, period: int) -> tuple[int, float]:
        self.round_trips += 1
        self.counts[key] = self.counts.get(key, 0) + weight
        return self.counts[key], float(period)


@pytest.fixture(autouse=True)
def fresh_counter():
    edge.use_counter(None)
    yield
    edge.use_counter(None)


# --- The lease size: small limits stay exact ------------------------------------------------------


@given(limit=st.integers(1, 99), setting=st.integers(0, 1000))
def test_limits_under_100_a_window_are_never_leased(limit, setting):
    assert edge.lease_size(limit, setting) == 1


@given(limit=st.integers(1, 10**9), setting=st.integers(0, 1000))
def test_a_lease_is_at_most_the_setting_and_a_fiftieth_of_the_limit(limit, setting):
    size = edge.lease_size(limit, setting)
    assert size >= 1
    assert size == 1 or (size <= setting and size * edge.LEASE_MIN_SHARE <= limit)


def test_the_default_lease_of_the_default_user_limit(settings):
    assert settings.GATEHOUSE_RATELIMIT_LEASE == 10
    assert edge.lease_size(edge.parse_rate("600/min").limit) == 10
    assert edge.lease_size(edge.parse_rate("60/min").limit) == 1  # the anonymous default: exact anyway


@given(before=st.integers(0, 10_000), size=st.integers(1, 100), limit=st.integers(1, 10_000))
def test_a_lease_grants_exactly_its_units_numbered_at_or_under_the_limit(before, size, limit):
    units = range(before + 1, before + size + 1)
    assert edge.lease_grant(before + size, size, limit) == sum(1 for unit in units if unit <= limit)


# --- Several processes sharing one count ---------------------------------------------------------

requests = st.lists(st.tuples(st.integers(0, 5), st.sampled_from([1, 1, 1, 2, 5])), min_size=1, max_size=400)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    processes=st.integers(1, 6),
    limit=st.integers(1, 600),
    size=st.integers(1, 20),
    calls=requests,
)
def test_a_window_admits_at_most_the_limit_and_loses_only_the_units_processes_hold(processes, limit, size, calls):
    shared = SharedCount()
    workers = [edge.LeasingCounter(shared) for _ in range(processes)]
    admitted = 0
    for who, weight in calls:
        count, _ = workers[who % processes].hit("k", weight, PERIOD, limit, size)
        if count <= limit:
            admitted += weight
    held = [worker._leases["k"].held for worker in workers if "k" in worker._leases]
    # Every unit numbered ≤ L is spent or still held by exactly one process: none is spent twice.
    assert admitted + sum(held) == min(shared.counts["k"], limit)
    assert admitted <= limit  # the upper bound: L, not L + P·k
    # The lower bound: a process holds fewer units than its lease or the heaviest call.
    assert all(h <= max(size, 5) - 1 for h in held)
    assert admitted >= min(shared.counts["k"], limit) - processes * (max(size, 5) - 1)


@hypothesis_settings(max_examples=100, deadline=None)
@given(processes=st.integers(1, 6), limit=st.integers(100, 600), size=st.integers(2, 20), calls=requests)
def test_with_traffic_reaching_every_process_a_window_admits_exactly_the_limit(processes, limit, size, calls):
    shared = SharedCount()
    workers = [edge.LeasingCounter(shared) for _ in range(processes)]
    admitted = 0
    for who, weight in calls:
        count, _ = workers[who % processes].hit("k", weight, PERIOD, limit, size)
        admitted += weight if count <= limit else 0
    # Then light calls reach every process in turn until the whole window is spent.
    for _ in range(limit + processes * size):
        for worker in workers:
            count, _ = worker.hit("k", 1, PERIOD, limit, size)
            admitted += 1 if count <= limit else 0
    assert admitted == limit


def test_a_lease_is_one_round_trip_for_k_calls_and_refusals_stop_asking_once_the_window_is_spent():
    shared = SharedCount()
    worker = edge.LeasingCounter(shared)
    answers = [worker.hit("k", 1, PERIOD, 100, 10)[0] for _ in range(150)]
    assert sum(count <= 100 for count in answers) == 100
    assert answers[-1] > 100
    assert shared.round_trips == 10  # 10 leases of 10; the 50 refusals asked nobody
    assert answers[:3] == [1, 2, 3]  # the count in the headers moves call by call


def test_a_lease_ends_with_its_window():
    shared = SharedCount()
    worker = edge.LeasingCounter(shared)
    worker.hit("k", 1, PERIOD, 100, 10)
    worker._leases["k"].ends = 0.0  # the window is over: what was held is gone
    shared.counts["k"] = 0  # and Redis forgot the key
    count, _ = worker.hit("k", 1, PERIOD, 100, 10)
    assert count == 1
    assert worker._leases["k"].held == 9
    assert shared.round_trips == 2


def test_a_call_heavier_than_the_lease_takes_its_own_weight():
    shared = SharedCount()
    worker = edge.LeasingCounter(shared)
    count, _ = worker.hit("k", 5, PERIOD, 100, 2)
    assert count <= 100
    assert shared.counts["k"] == 5


# --- Which buckets lease -------------------------------------------------------------------------


class RecordingRedisCounter(edge.RedisCounter):
    """A RedisCounter (so that edge.hit may lease) whose store is a SharedCount."""

    def __init__(self):
        self.shared = SharedCount()

    def hit(self, key, weight, period):
        return self.shared.hit(key, weight, period)


def test_only_calls_that_ask_for_a_lease_get_one():
    store = RecordingRedisCounter()
    edge.use_counter(store)
    rate = edge.parse_rate("1000/min")
    for _ in range(20):
        edge.hit("user", 1, rate, lease=True)
        edge.hit("ip", 1, rate)
    assert store.shared.counts == {"user": 20, "ip": 20}
    assert store.shared.round_trips == 2 + 20


def test_a_small_limit_is_exact_even_when_a_lease_is_asked_for():
    store = RecordingRedisCounter()
    edge.use_counter(store)
    rate = edge.parse_rate("99/min")
    answers = [edge.hit("user", 1, rate, lease=True)[0] for _ in range(100)]
    assert answers == list(range(1, 101))
    assert store.shared.round_trips == 100


def test_setting_the_lease_to_1_turns_leasing_off(settings):
    settings.GATEHOUSE_RATELIMIT_LEASE = 1
    store = RecordingRedisCounter()
    edge.use_counter(store)
    for _ in range(10):
        edge.hit("user", 1, edge.parse_rate("100000/min"), lease=True)
    assert store.shared.round_trips == 10


def test_without_redis_nothing_is_leased(settings):
    edge.use_counter(edge.LocalCounter())
    answers = [edge.hit("user", 1, edge.parse_rate("1000/min"), lease=True)[0] for _ in range(3)]
    assert answers == [1, 2, 3]


def test_a_lease_from_a_store_that_is_down_raises_for_the_edge_to_fail_open():
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    edge.use_counter(edge.RedisCounter(client=dead))
    with pytest.raises(redis.ConnectionError):
        edge.hit("user", 1, edge.parse_rate("100000/min"), lease=True)


@pytest.mark.django_db
def test_when_redis_is_down_a_leasing_user_bucket_fails_open_like_any_other(client, settings):
    from tests.support.factories import UserFactory

    settings.GATEHOUSE_RATELIMIT_USER = "100000/min"  # a leasing limit
    UserFactory(email="lease@example.com", password="a-Long-enough-passphrase-42")
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    edge.use_counter(edge.RedisCounter(client=dead))
    before = edge.RATELIMIT_UNAVAILABLE._value.get()
    response = client.post(
        "/api/v1/auth/token",
        {"email": "lease@example.com", "password": "a-Long-enough-passphrase-42"},
        content_type="application/json",
    )
    assert response.status_code == 200
    auth = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access_token']}"}
    statuses = [client.get("/api/v1/users/me", **auth).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert edge.RATELIMIT_UNAVAILABLE._value.get() == before + 4


@pytest.mark.django_db
def test_the_edge_never_leases_a_per_ip_bucket_whatever_its_limit(client, settings):
    """Sign-in, registration and resets count per IP: that bucket stays exact, one count a call."""
    settings.GATEHOUSE_RATELIMIT_ANON = "100000/min"
    store = RecordingRedisCounter()
    edge.use_counter(store)
    for _ in range(3):
        assert client.get("/api/v1/users/me", REMOTE_ADDR="10.9.8.7").status_code == 401
    assert store.shared.round_trips == 3
    assert store.shared.counts == {"gatehouse:rl:ip:10.9.8.7": 3}
