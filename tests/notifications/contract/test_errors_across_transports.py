"""The same failing call raises equal errors — same class, code, message and details — whether
the implementation is in process or across gRPC."""

from __future__ import annotations

import datetime
import uuid

import pytest

from notifications.interface import Preference

from .conftest import HELLO, MISSING


@pytest.fixture
def people(both, ada):
    return {"ada": ada}


def send(**overrides):
    def call(service, people):
        request = {"type": "announcement", "user_ids": [people["ada"].id], "context": HELLO, **overrides}
        return service.send_notification(**request)

    return call


FAILING_CALLS = {
    "unknown type": send(type="birthday"),
    "a context key the type does not declare": send(context={**HELLO, "is_admin": "yes"}),
    "a required context key missing": send(context={"subject": "Hi"}),
    "a context value that is not a string": send(context={**HELLO, "body": 42}),
    "a context value JSON cannot carry": send(context={**HELLO, "body": datetime.date(2026, 1, 1)}),
    "a context value too long": send(context={**HELLO, "subject": "x" * 201}),
    "a context that is not an object": send(context=["not", "an", "object"]),
    "no channel": send(channels=[]),
    "an unknown channel": send(channels=["carrier_pigeon"]),
    "the webhook channel while it is not configured": send(channels=["webhook"]),
    "no recipients at all": send(user_ids=None),
    "an empty list of user ids": send(user_ids=[]),
    "a user id that is not a UUID": send(user_ids=["not-a-uuid"]),
    "a group id that is not a UUID": send(user_ids=None, group_id="nope"),
    "an unknown group": send(user_ids=None, group_id=MISSING),
    "an unknown role": send(user_ids=None, role="no-such-role"),
    "a scope without a role": send(scope="org:acme"),
    "a bad scope": send(user_ids=None, role="admin", scope="not a scope!"),
    "an empty idempotency key": send(idempotency_key=""),
    "an idempotency key too long": send(idempotency_key="k" * 256),
    "the deliveries of an unknown notification": lambda service, p: service.get_deliveries(notification_id=MISSING),
    "read an unknown message": lambda service, p: service.mark_read(user_id=p["ada"].id, message_id=MISSING),
    "a garbage cursor": lambda service, p: service.list_inbox(user_id=p["ada"].id, cursor="garbage"),
    "a limit of 0": lambda service, p: service.list_inbox(user_id=p["ada"].id, limit=0),
    "a limit too large": lambda service, p: service.list_inbox(user_id=p["ada"].id, limit=10**6),
    "a preference of an unknown type": lambda service, p: service.set_preferences(
        user_id=p["ada"].id, preferences=[Preference(type="birthday", channel="email", enabled=False)]
    ),
    "a preference on a channel the type does not use": lambda service, p: service.set_preferences(
        user_id=p["ada"].id, preferences=[Preference(type="welcome", channel="webhook", enabled=False)]
    ),
    "a mandatory type turned off": lambda service, p: service.set_preferences(
        user_id=p["ada"].id, preferences=[Preference(type="password_reset", channel="email", enabled=False)]
    ),
}


def _raised(call, service, people) -> Exception:
    with pytest.raises(Exception) as caught:
        call(service, people)
    return caught.value


@pytest.mark.parametrize("call", FAILING_CALLS.values(), ids=FAILING_CALLS.keys())
def test_a_failing_call_raises_equal_errors_in_process_and_over_grpc(both, people, call):
    local, remote = both
    local_error, remote_error = _raised(call, local, people), _raised(call, remote, people)
    assert type(remote_error) is type(local_error)
    assert remote_error == local_error
    assert (remote_error.code, remote_error.message, remote_error.details) == (
        local_error.code,
        local_error.message,
        local_error.details,
    )


def test_a_refused_send_records_nothing_on_either_side(both, people):
    from notifications.models import Notification

    for service in both:
        _raised(send(channels=["carrier_pigeon"]), service, people)
    assert not Notification.objects.filter(type="announcement").exists()


def test_ids_travel_as_uuids(both, people):
    local, remote = both
    notification_id = remote.send_notification(type="announcement", user_ids=[str(people["ada"].id)], context=HELLO)
    assert isinstance(notification_id, uuid.UUID)
    assert remote.get_deliveries(notification_id=notification_id) == local.get_deliveries(
        notification_id=notification_id
    )
