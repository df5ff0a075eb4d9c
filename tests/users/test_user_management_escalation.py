"""Issue 15 item 1: users.user.manage does not reach users who hold more than its holder. Attacked
over HTTP against a live server (the reviewers' takeover: new email on the admin, then a reset),
and through the admin's user form and deactivate action."""

import pytest

from auth.interface import PASSWORD_RESET_REQUESTED
from permissions.interface import ADMIN_ROLE
from project.events.models import OutboxEvent
from tests.support.factories import PASSWORD, AssignmentFactory, RoleFactory, UserFactory
from tests.support.http import call
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people():
    root = UserFactory(email="root@example.com", is_staff=True, roles=[ADMIN_ROLE])
    manager = UserFactory(email="mallory@example.com", is_staff=True)
    AssignmentFactory(
        role=RoleFactory(name="user-managers", permissions=["users.user.view", "users.user.manage"]), user_id=manager.id
    )
    ada = UserFactory(email="ada@example.com")
    return root, manager, ada


def token_of(base: str, email: str) -> str:
    status, body = call("POST", f"{base}/api/v1/auth/token", {"email": email, "password": PASSWORD})
    assert status == 200
    return body["access_token"]


def test_a_user_manager_cannot_take_over_or_deactivate_an_admin(live_server, people, settings):
    settings.CELERY_BROKER_URL = ""
    root, _, _ = people
    base = live_server.url
    token = token_of(base, "mallory@example.com")
    before = User.objects.values().get(id=root.id)

    status, body = call(
        "PATCH", f"{base}/api/v1/users/{root.id}", {"email": "mallory+root@example.com", "is_verified": True}, token
    )
    assert (status, body["error"]["code"]) == (403, "escalation_denied")
    status, body = call("DELETE", f"{base}/api/v1/users/{root.id}", token=token)
    assert (status, body["error"]["code"]) == (403, "escalation_denied")

    assert User.objects.values().get(id=root.id) == before
    # The reset the attack ended with reaches nobody: the attacker's address is no account.
    assert call("POST", f"{base}/api/v1/auth/password/reset", {"email": "mallory+root@example.com"})[0] == 202
    assert not OutboxEvent.objects.filter(type=PASSWORD_RESET_REQUESTED).exists()
    assert token_of(base, "root@example.com")


def test_a_user_manager_still_manages_users_who_hold_no_more_than_they_do(live_server, people):
    _, _, ada = people
    base = live_server.url
    token = token_of(base, "mallory@example.com")

    status, body = call("PATCH", f"{base}/api/v1/users/{ada.id}", {"display_name": "Ada L."}, token)
    assert (status, body["display_name"]) == (200, "Ada L.")
    assert call("DELETE", f"{base}/api/v1/users/{ada.id}", token=token)[0] == 204


def test_the_admin_user_form_and_deactivate_action_refuse_the_same_escalation(client, people):
    root, manager, _ = people
    client.force_login(User.objects.get(id=manager.id))
    before = User.objects.values().get(id=root.id)

    response = client.post(
        f"/admin/users/user/{root.id}/change/",
        {"email": "mallory+root@example.com", "display_name": "", "is_verified": "on", "is_staff": "on"},
    )
    assert response.status_code == 200  # the form comes back with the refusal
    assert b"You cannot change a user who holds a permission you do not hold." in response.content

    response = client.post(
        "/admin/users/user/", {"action": "deactivate", "_selected_action": [str(root.id)]}, follow=True
    )
    assert b"Nobody was deactivated." in response.content
    assert User.objects.values().get(id=root.id) == before
