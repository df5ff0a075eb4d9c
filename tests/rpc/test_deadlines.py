"""Deadlines: no call outlives its caller's patience, and the patience propagates downstream."""

import time
import uuid

import pytest
from django.test import override_settings

from project.kernel.context import request_id_scope
from project.kernel.errors import DeadlineExceeded, ServiceUnavailable
from project.rpc import deadlines
from project.rpc.interceptors import Call, DeadlineInterceptor


def test_a_call_whose_deadline_already_passed_raises_deadline_exceeded_at_once(remote_users):
    started = time.monotonic()
    with deadlines.deadline_scope(0), pytest.raises(DeadlineExceeded):
        remote_users.get_user(user_id=uuid.uuid4())
    assert time.monotonic() - started < 1


def test_a_timeout_too_short_to_answer_in_raises_service_unavailable_rather_than_hanging(remote_users):
    started = time.monotonic()
    with override_settings(GATEHOUSE_GRPC_TIMEOUT=0.000001), pytest.raises(ServiceUnavailable):
        remote_users.get_user(user_id=uuid.uuid4())
    assert time.monotonic() - started < 2


def _timeouts_logged(server, request_id):
    return [r["timeout_ms"] for r in server.log_records() if r.get("request_id") == request_id]


def test_the_client_sends_the_configured_timeout(users_server, remote_users):
    with request_id_scope(request_id := f"deadline-{uuid.uuid4().hex}"), override_settings(GATEHOUSE_GRPC_TIMEOUT=7):
        remote_users.get_users(user_ids=[])
    [timeout_ms] = _timeouts_logged(users_server, request_id)
    # gRPC rounds the timeout it sends up, a few milliseconds at most.
    assert 6000 < timeout_ms <= 7050


def test_a_shorter_deadline_of_the_work_in_progress_shortens_the_timeout(users_server, remote_users):
    with request_id_scope(request_id := f"deadline-{uuid.uuid4().hex}"), deadlines.deadline_scope(1.5):
        remote_users.get_users(user_ids=[])
    [timeout_ms] = _timeouts_logged(users_server, request_id)
    assert 0 < timeout_ms <= 1550


def test_a_nested_deadline_never_extends_the_enclosing_one():
    with deadlines.deadline_scope(1):
        with deadlines.deadline_scope(60):
            assert deadlines.time_remaining() <= 1
        with deadlines.deadline_scope(None):
            assert deadlines.time_remaining() <= 1
    assert deadlines.time_remaining() is None


class _ContextWithDeadline:
    """The part of grpc.ServicerContext the deadline interceptor reads."""

    def __init__(self, remaining: float):
        self._remaining = remaining

    def time_remaining(self) -> float:
        return self._remaining


def test_the_server_refuses_a_call_whose_deadline_has_passed():
    with pytest.raises(DeadlineExceeded), DeadlineInterceptor().around(Call("/x.v1.S/M", _ContextWithDeadline(0))):
        pytest.fail("the servicer must not run")


def test_the_server_binds_the_callers_deadline_for_downstream_calls():
    with DeadlineInterceptor().around(Call("/x.v1.S/M", _ContextWithDeadline(3.0))):
        assert 2.5 < deadlines.time_remaining() <= 3.0
    assert deadlines.time_remaining() is None


def test_a_call_without_a_deadline_binds_none():
    # gRPC reports "no deadline" as the time to its infinite future.
    with DeadlineInterceptor().around(Call("/x.v1.S/M", _ContextWithDeadline(2.0e9))):
        assert deadlines.time_remaining() is None
