"""The event pipeline in embedded mode: no broker, the same handlers run in-process after commit.

These run in both modes (on SQLite embedded, on PostgreSQL in stack mode) with the broker
switched off for the test.
"""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from permissions.interface import permission_service
from project.events.consumers import process
from project.events.deadletters import replay
from project.events.models import DeadLetter, InboxRecord, OutboxEvent
from project.events.outbox import OutsideTransaction, outbox_record
from project.kernel.context import request_id_scope
from tests.probe.handlers import PROBE_EVENT
from tests.probe.models import Effect
from tests.probe.tasks import remember_request_id
from tests.support.broker import envelope
from tests.support.rbac import grant_role
from users.core.services import create_user, deactivate_user, update_user
from users.interface import USER_DEACTIVATED, USER_REGISTERED, USER_UPDATED

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _embedded(settings):
    settings.CELERY_BROKER_URL = ""


def effects(event_id) -> int:
    return Effect.objects.filter(event_id=event_id).count()


def test_handlers_run_in_process_after_the_commit_and_not_before():
    with transaction.atomic():
        event = outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 1})
        assert effects(event.id) == 0

    assert effects(event.id) == 1
    assert InboxRecord.objects.filter(consumer="probe", event_id=event.id).exists()
    assert OutboxEvent.objects.get(id=event.id).published_at is not None


def test_users_events_flow_to_consumers():
    with request_id_scope("req-users-flow-01"):
        user = create_user(email="grace@example.com", display_name="Grace")
        update_user(user_id=user.id, display_name="Grace H.")
        deactivate_user(user_id=user.id)

    rows = list(OutboxEvent.objects.filter(producer="users").order_by("occurred_at", "seq"))
    assert [row.type for row in rows] == [USER_REGISTERED, USER_UPDATED, USER_DEACTIVATED]
    expected = [
        {"user_id": str(user.id), "email": "grace@example.com", "display_name": "Grace"},
        {"user_id": str(user.id), "changed": ["display_name"]},
        {"user_id": str(user.id)},
    ]
    for row, payload in zip(rows, expected, strict=True):
        assert row.payload.items() >= payload.items()
    assert {row.request_id for row in rows} == {"req-users-flow-01"}
    assert all(row.published_at for row in rows)
    assert [effect.event_type for effect in Effect.objects.filter(event_type__startswith="users.").order_by("id")] == [
        USER_REGISTERED,
        USER_UPDATED,
        USER_DEACTIVATED,
    ]


def test_an_event_whose_transaction_rolls_back_has_no_effect():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_record(type=PROBE_EVENT, producer="tests", payload={})
        raise RuntimeError("the change fails")

    assert not OutboxEvent.objects.exists()
    assert not Effect.objects.exists()


def test_an_event_in_a_rolled_back_savepoint_has_no_effect_while_the_outer_commit_does():
    with transaction.atomic():
        kept = outbox_record(type=PROBE_EVENT, producer="tests", payload={"kept": True})
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox_record(type=PROBE_EVENT, producer="tests", payload={"kept": False})
            raise RuntimeError("the inner change fails")

    assert list(OutboxEvent.objects.values_list("id", flat=True)) == [kept.id]
    assert list(Effect.objects.values_list("event_id", flat=True)) == [kept.id]


def test_a_consumer_processing_the_same_event_twice_acts_once():
    event = envelope(PROBE_EVENT)

    assert process("probe", event) is True
    assert process("probe", event) is False

    assert effects(event.id) == 1
    assert InboxRecord.objects.filter(event_id=event.id).count() == 1


def test_a_failing_handler_is_retried_then_dead_lettered_without_failing_the_producer():
    with transaction.atomic():
        event = outbox_record(type=PROBE_EVENT, producer="tests", payload={"probe_fail": True})

    row = OutboxEvent.objects.get(id=event.id)
    assert row.attempts == 3  # the first attempt and one per retry delay (0.2 s, 0.4 s in tests)
    assert "probe told to fail" in row.last_error
    assert row.published_at is not None  # handed over: it lives on as a dead letter
    dead = DeadLetter.objects.get()
    assert (dead.consumer, dead.event_id, dead.event_type, dead.attempts) == ("probe", event.id, PROBE_EVENT, 3)
    assert dead.envelope == event.to_dict()
    assert "ProbeFailure: probe told to fail" in dead.error
    assert effects(event.id) == 0
    assert not InboxRecord.objects.filter(event_id=event.id).exists()


def test_the_relay_command_publishes_pending_events_once():
    row = OutboxEvent.objects.create(
        type=PROBE_EVENT, producer="tests", occurred_at="2026-01-01T00:00:00Z", payload={"left": "behind"}
    )
    out = StringIO()

    call_command("relay_outbox", "--once", stdout=out)
    call_command("relay_outbox", "--once", stdout=out)

    assert out.getvalue().splitlines() == ["published 1 event(s)", "published 0 event(s)"]
    assert effects(row.id) == 1
    row.refresh_from_db()
    assert row.published_at is not None


def test_recording_an_event_outside_a_transaction_is_refused():
    with pytest.raises(OutsideTransaction):
        outbox_record(type=PROBE_EVENT, producer="tests", payload={})
    assert not OutboxEvent.objects.exists()


def test_the_envelope_carries_the_request_id():
    with request_id_scope("req-envelope-000042"), transaction.atomic():
        event = outbox_record(type=PROBE_EVENT, producer="tests", payload={})

    assert event.request_id == "req-envelope-000042"
    assert OutboxEvent.objects.get(id=event.id).request_id == "req-envelope-000042"
    assert event.to_dict()["occurred_at"].endswith("Z")


def test_an_eager_task_keeps_the_callers_request_id():
    marker = uuid.uuid4()

    with request_id_scope("req-eager-task-0001"):
        result = remember_request_id.apply(args=[str(marker)])

    assert result.get() == "req-eager-task-0001"
    assert Effect.objects.get(event_id=marker).event_type == "req-eager-task-0001"


def test_a_dead_letter_replayed_after_the_fix_is_processed():
    fixed = envelope(PROBE_EVENT)
    dead = DeadLetter.objects.create(
        consumer="probe", event_id=fixed.id, event_type=fixed.type, envelope=fixed.to_dict(), error="x", attempts=3
    )

    replay(dead)

    assert effects(fixed.id) == 1
    dead.refresh_from_db()
    assert dead.replayed_at is not None


def test_a_dead_letter_that_fails_again_on_replay_is_dead_lettered_anew():
    still_failing = envelope(PROBE_EVENT, probe_fail=True)
    dead = DeadLetter.objects.create(
        consumer="probe",
        event_id=still_failing.id,
        event_type=still_failing.type,
        envelope=still_failing.to_dict(),
        error="x",
        attempts=3,
    )

    replay(dead)

    assert DeadLetter.objects.filter(event_id=still_failing.id).count() == 2
    assert DeadLetter.objects.filter(event_id=still_failing.id, replayed_at__isnull=True).count() == 1


def test_the_admin_replays_selected_dead_letters(client):
    admin = create_user(email="admin@example.com", password="a-long-admin-password", is_staff=True)
    grant_role(admin.id)
    client.force_login(admin)
    fixed = envelope(PROBE_EVENT)
    dead = DeadLetter.objects.create(
        consumer="probe", event_id=fixed.id, event_type=fixed.type, envelope=fixed.to_dict(), error="x", attempts=3
    )

    response = client.post(
        reverse("admin:events_deadletter_changelist"), {"action": "replay", "_selected_action": [dead.pk]}
    )

    assert response.status_code == 302
    assert effects(fixed.id) == 1
    dead.refresh_from_db()
    assert dead.replayed_at is not None


def test_the_events_admin_permissions_let_a_viewer_see_dead_letters_and_only_a_manager_replay_them(client):
    # The events package declares no permission itself (it imports no service): the permissions
    # service declares them on its behalf, so roles can hold them and the admin asks for them.
    permission_service.create_role(actor_id=None, name="event-viewer", permissions=["events.event.view"])
    permission_service.create_role(
        actor_id=None, name="event-manager", permissions=["events.event.view", "events.deadletter.manage"]
    )
    viewer = create_user(email="viewer@example.com", password="a-long-viewer-password", is_staff=True)
    manager = create_user(email="manager@example.com", password="a-long-manager-password", is_staff=True)
    grant_role(viewer.id, "event-viewer")
    grant_role(manager.id, "event-manager")
    fixed = envelope(PROBE_EVENT)
    dead = DeadLetter.objects.create(
        consumer="probe", event_id=fixed.id, event_type=fixed.type, envelope=fixed.to_dict(), error="x", attempts=3
    )
    changelist = reverse("admin:events_deadletter_changelist")
    replay_it = {"action": "replay", "_selected_action": [dead.pk]}

    client.force_login(viewer)
    assert client.get(changelist).status_code == 200
    client.post(changelist, replay_it)
    dead.refresh_from_db()
    assert dead.replayed_at is None
    assert effects(fixed.id) == 0

    client.force_login(manager)
    assert client.post(changelist, replay_it).status_code == 302
    dead.refresh_from_db()
    assert dead.replayed_at is not None
    assert effects(fixed.id) == 1


def _dead_letter(consumer: str = "probe") -> DeadLetter:
    fixed = envelope(PROBE_EVENT)
    return DeadLetter.objects.create(
        consumer=consumer, event_id=fixed.id, event_type=fixed.type, envelope=fixed.to_dict(), error="x", attempts=3
    )


def test_the_replay_command_takes_the_event_id_the_logs_and_the_admin_show():
    """Issue 16 item 13: the event's UUID, like every other command's ids (a number still names a
    dead letter that had no valid envelope, so no event id)."""
    by_event_id, by_number, left_alone = _dead_letter(), _dead_letter(), _dead_letter()
    out = StringIO()
    call_command("replay_dead_letters", str(by_event_id.event_id), str(by_number.pk), stdout=out)
    assert out.getvalue().strip() == "replayed 2 dead letter(s)"
    assert (effects(by_event_id.event_id), effects(by_number.event_id), effects(left_alone.event_id)) == (1, 1, 0)
    assert not DeadLetter.objects.filter(pk__in=[by_event_id.pk, by_number.pk], replayed_at__isnull=True).exists()


def test_the_replay_command_refuses_an_id_that_names_no_waiting_dead_letter_and_replays_nothing():
    waiting = _dead_letter()
    unknown = uuid.uuid4()
    with pytest.raises(CommandError, match=f"no dead letter waiting for replay: {unknown}; nothing replayed"):
        call_command("replay_dead_letters", str(waiting.event_id), str(unknown), stdout=StringIO())
    with pytest.raises(CommandError, match="not an event id"):
        call_command("replay_dead_letters", "evt-42", stdout=StringIO())
    assert effects(waiting.event_id) == 0
    assert DeadLetter.objects.get(pk=waiting.pk).replayed_at is None
