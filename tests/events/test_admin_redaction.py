"""The events admin never shows a sealed one-time token (issue 15, item 2): a staff user who can
read the outbox must not be handed the reset link of someone else's account."""

import pytest

from auth.interface import PASSWORD_RESET_REQUESTED, ClientInfo, auth_service
from permissions.interface import ADMIN_ROLE
from project.events.models import OutboxEvent
from tests.support.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_the_outbox_admin_shows_an_event_with_its_sealed_token_redacted(client):
    UserFactory(email="root@example.com", is_staff=True, roles=[ADMIN_ROLE])
    assert client.login(username="root@example.com", password=PASSWORD)
    UserFactory(email="ada@example.com")
    auth_service.request_password_reset(email="ada@example.com", client=ClientInfo(ip="127.0.0.1"))
    event = OutboxEvent.objects.get(type=PASSWORD_RESET_REQUESTED)
    sealed = event.payload["sealed_token"]
    assert len(sealed) > 20

    page = client.get(f"/admin/events/outboxevent/{event.id}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert sealed not in text
    assert "(sealed)" in text
    assert str(event.payload["user_id"]) in text  # the rest of the payload is still there
