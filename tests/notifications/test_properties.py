"""Property-based checks where the inputs are large: preferences payloads, send contexts, inbox pages."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.core.types import TYPES
from notifications.interface import (
    CHANNELS,
    InvalidNotification,
    InvalidPreferences,
    Preference,
    notification_service,
)
from notifications.models import InAppMessage, Notification
from notifications.models import Preference as PreferenceModel

pytestmark = pytest.mark.django_db

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

type_codes = st.sampled_from([*sorted(TYPES), "nope", ""])
channels = st.sampled_from([*CHANNELS, "pigeon"])
enabled = st.one_of(st.booleans(), st.sampled_from([None, "yes", 0, 1]))
preference_lists = st.lists(st.builds(Preference, type=type_codes, channel=channels, enabled=enabled), max_size=30)


def stored(user_id) -> dict[tuple[str, str], bool]:
    return {(p.type, p.channel): p.enabled for p in notification_service.get_preferences(user_id=user_id)}


def acceptable(preferences: list[Preference]) -> bool:
    pairs = [(p.type, p.channel) for p in preferences]
    if len(pairs) != len(set(pairs)):
        return False
    for p in preferences:
        definition = TYPES.get(p.type)
        if definition is None or p.channel not in definition.channels or not isinstance(p.enabled, bool):
            return False
        if definition.mandatory and not p.enabled:
            return False
    return True


@SETTINGS
@given(first=preference_lists, second=preference_lists)
def test_preferences_are_set_all_or_nothing_and_mandatory_types_stay_on(first, second):
    user_id = uuid.uuid4()
    try:
        for preferences in (first, second):
            before = stored(user_id)
            if acceptable(preferences):
                after = {
                    (p.type, p.channel): p.enabled
                    for p in notification_service.set_preferences(user_id=user_id, preferences=preferences)
                }
                expected = {
                    **before,
                    **{(p.type, p.channel): p.enabled or TYPES[p.type].mandatory for p in preferences},
                }
                assert after == expected
            else:
                with pytest.raises(InvalidPreferences) as raised:
                    notification_service.set_preferences(user_id=user_id, preferences=preferences)
                assert raised.value.details["preferences"]
                assert stored(user_id) == before
            assert all(on for (code, _), on in stored(user_id).items() if TYPES[code].mandatory)
    finally:
        PreferenceModel.objects.filter(user_id=user_id).delete()


context_values = st.one_of(
    st.text(max_size=30), st.text(min_size=195, max_size=260), st.just("a\x00b"), st.integers(), st.none()
)
contexts = st.dictionaries(st.sampled_from(["subject", "body", "extra", "x" * 80]), context_values, max_size=4)


@SETTINGS
@given(context=contexts)
def test_a_send_context_is_accepted_exactly_when_it_fits_the_type(context):
    problems = {key[:64] for key in context if key not in ("subject", "body")}
    for name, limit in (("subject", 200), ("body", 20000)):
        value = context.get(name)
        if value is None or value == "" or not isinstance(value, str) or len(value) > limit or "\x00" in value:
            problems.add(name)
    before = Notification.objects.count()

    if problems:
        with pytest.raises(InvalidNotification) as raised:
            notification_service.send_notification(
                type="announcement", user_ids=[uuid.uuid4()], context=context, channels=["in_app"]
            )
        assert set(raised.value.details["context"]) == problems
        assert Notification.objects.count() == before
    else:
        notification_id = notification_service.send_notification(
            type="announcement", user_ids=[uuid.uuid4()], context=context, channels=["in_app"]
        )
        assert Notification.objects.get(id=notification_id).context == context
        Notification.objects.filter(id=notification_id).delete()


@SETTINGS
@given(
    # Few distinct instants, so that many messages share created_at and the id breaks the tie.
    messages=st.lists(st.tuples(st.integers(min_value=0, max_value=3), st.booleans()), max_size=25),
    limit=st.integers(min_value=1, max_value=7),
    unread_only=st.booleans(),
)
def test_inbox_pages_in_a_row_are_every_message_newest_first_exactly_once(messages, limit, unread_only):
    user_id, other = uuid.uuid4(), uuid.uuid4()
    notification = Notification.objects.create(type="announcement", context={}, request_hash="x")
    base = timezone.now()
    try:
        rows = [
            InAppMessage.objects.create(
                notification=Notification.objects.create(type="announcement", context={}, request_hash="x"),
                user_id=user_id,
                subject="s",
                body="b",
                created_at=base - timedelta(seconds=instant),
                read_at=base if read else None,
            )
            for instant, read in messages
        ]
        InAppMessage.objects.create(notification=notification, user_id=other, subject="s", body="b")
        expected = [
            m.id
            for m in sorted(rows, key=lambda m: (m.created_at, m.id), reverse=True)
            if not (unread_only and m.read_at)
        ]
        seen, cursor = [], None
        while True:
            page = notification_service.list_inbox(user_id=user_id, unread_only=unread_only, limit=limit, cursor=cursor)
            assert len(page.results) <= limit
            seen += [m.id for m in page.results]
            if page.next is None:
                break
            assert len(page.results) == limit
            cursor = page.next
        assert seen == expected
        assert notification_service.count_unread(user_id=user_id) == sum(1 for _, read in messages if not read)
    finally:
        Notification.objects.all().delete()
