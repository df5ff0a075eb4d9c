"""The in-app inbox, its unread count and preferences, the same in process and over gRPC."""

from __future__ import annotations

import pytest

from notifications.interface import InvalidCursor, InvalidPreferences, NotificationNotFound, Preference
from notifications.local import LocalNotificationService

from .conftest import HELLO, MISSING


def announce(user, subject: str) -> None:
    """An in-app message for `user`, sent in this process."""
    LocalNotificationService().send_notification(
        type="announcement", user_ids=[user.id], context={**HELLO, "subject": subject}, channels=["in_app"]
    )


def announcements(page):
    return [message.subject for message in page.results if message.type == "announcement"]


def test_the_inbox_lists_newest_first_in_pages_and_counts_the_unread(notifications, ada, grace):
    for subject in ("one", "two", "three"):
        announce(ada, subject)
    announce(grace, "not ada's")

    # Counted first after the messages arrived: in embedded mode the two processes do not share
    # a cache, and these messages were delivered in this one.
    unread = notifications.list_inbox(user_id=ada.id, unread_only=True, limit=200).results
    assert notifications.count_unread(user_id=ada.id) == len(unread) >= 3
    assert [m.subject for m in unread if m.type == "announcement"] == ["three", "two", "one"]
    first = notifications.list_inbox(user_id=ada.id, limit=2)
    assert announcements(first) == ["three", "two"]
    assert first.next is not None
    rest = notifications.list_inbox(user_id=ada.id, limit=2, cursor=first.next)
    assert announcements(rest)[0] == "one"
    assert all(message.read_at is None and not message.is_read for message in first.results)


def test_marking_read_changes_the_count_and_the_unread_filter(notifications, ada):
    announce(ada, "one")
    announce(ada, "two")
    start = notifications.count_unread(user_id=ada.id)
    [two, one] = [m for m in notifications.list_inbox(user_id=ada.id).results if m.type == "announcement"]

    notifications.mark_read(user_id=ada.id, message_id=two.id)
    notifications.mark_read(user_id=ada.id, message_id=two.id)  # idempotent

    assert notifications.count_unread(user_id=ada.id) == start - 1
    unread = notifications.list_inbox(user_id=ada.id, unread_only=True)
    assert two.id not in [m.id for m in unread.results] and one.id in [m.id for m in unread.results]
    read = next(m for m in notifications.list_inbox(user_id=ada.id).results if m.id == two.id)
    assert read.read_at is not None and read.is_read
    assert notifications.mark_all_read(user_id=ada.id) == start - 1
    assert notifications.count_unread(user_id=ada.id) == 0
    assert notifications.mark_all_read(user_id=ada.id) == 0


def test_another_users_message_is_not_found(notifications, ada, grace):
    announce(ada, "ada's")
    [message] = [m for m in notifications.list_inbox(user_id=ada.id).results if m.type == "announcement"]

    with pytest.raises(NotificationNotFound):
        notifications.mark_read(user_id=grace.id, message_id=message.id)
    with pytest.raises(NotificationNotFound):
        notifications.mark_read(user_id=ada.id, message_id=MISSING)


def test_a_bad_cursor_or_limit_is_refused(notifications, ada):
    with pytest.raises(InvalidCursor):
        notifications.list_inbox(user_id=ada.id, cursor="garbage")
    with pytest.raises(InvalidCursor):
        notifications.list_inbox(user_id=ada.id, limit=0)


def test_preferences_are_set_and_read_back(notifications, ada):
    before = notifications.get_preferences(user_id=ada.id)
    assert all(p.enabled for p in before)
    assert any(p.mandatory for p in before) and any(not p.mandatory for p in before)

    after = notifications.set_preferences(
        user_id=ada.id, preferences=[Preference(type="announcement", channel="email", enabled=False)]
    )

    assert after == notifications.get_preferences(user_id=ada.id)
    changed = [p for p in after if not p.enabled]
    assert [(p.type, p.channel) for p in changed] == [("announcement", "email")]
    assert len(after) == len(before)


def test_a_mandatory_type_cannot_be_turned_off(notifications, ada):
    with pytest.raises(InvalidPreferences):
        notifications.set_preferences(
            user_id=ada.id, preferences=[Preference(type="password_changed", channel="email", enabled=False)]
        )
    assert all(p.enabled for p in notifications.get_preferences(user_id=ada.id))


def test_the_inbox_is_the_same_on_both(both, ada):
    local, remote = both
    for subject in ("one", "two", "three"):
        announce(ada, subject)
    local.mark_read(user_id=ada.id, message_id=local.list_inbox(user_id=ada.id).results[0].id)

    assert remote.list_inbox(user_id=ada.id) == local.list_inbox(user_id=ada.id)
    assert remote.list_inbox(user_id=ada.id, unread_only=True, limit=1) == local.list_inbox(
        user_id=ada.id, unread_only=True, limit=1
    )
    assert remote.get_preferences(user_id=ada.id) == local.get_preferences(user_id=ada.id)
