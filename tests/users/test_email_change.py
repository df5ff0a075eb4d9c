"""Issue 15 item 1: an email change counts only after the new address is verified; the old address
is told; sessions and pending one-time tokens end. Attacked over HTTP against a live server the
way the reviewers did: a user manager sets a victim's email to an address they control, then asks
for a password reset there."""

from __future__ import annotations

import pytest
from django.core import mail

from auth.interface import EMAIL_VERIFICATION_REQUESTED, PASSWORD_RESET_REQUESTED
from project.events.relay import relay_all
from tests.auth.conftest import events, sealed_token
from tests.support.factories import PASSWORD, AssignmentFactory, RoleFactory, UserFactory
from tests.support.http import call
from users.interface import user_service

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER_MAILBOX = "mallory@evil.example.com"


def drain():
    while relay_all():
        pass


@pytest.fixture
def world(live_server, in_process_tasks):
    victim = UserFactory(email="victim@example.com")
    manager = UserFactory(email="manager@example.com")
    AssignmentFactory(
        role=RoleFactory(name="user-manager", permissions=["users.user.manage", "users.user.view"]), user_id=manager.id
    )
    base = live_server.url
    token = call("POST", f"{base}/api/v1/auth/token", {"email": manager.email, "password": PASSWORD})[1]["access_token"]
    victim_token = call("POST", f"{base}/api/v1/auth/token", {"email": victim.email, "password": PASSWORD})[1][
        "access_token"
    ]
    drain()
    mail.outbox.clear()
    return base, victim, token, victim_token


def test_a_changed_email_is_not_used_until_the_new_address_is_verified(world):
    base, victim, manager_token, victim_token = world
    status, body = call("PATCH", f"{base}/api/v1/users/{victim.id}", {"email": ATTACKER_MAILBOX}, manager_token)
    assert status == 200 and body["email"] == "victim@example.com"
    drain()
    # The reset the reviewers used next: to the new address, nothing happens; the account is
    # still the old address's.
    assert call("POST", f"{base}/api/v1/auth/password/reset", {"email": ATTACKER_MAILBOX})[0] == 202
    drain()
    assert events(PASSWORD_RESET_REQUESTED) == []
    assert user_service.get_user(user_id=victim.id).email == "victim@example.com"
    # The only mail to the new address is its verification link.
    assert [m.subject for m in mail.outbox if m.to == [ATTACKER_MAILBOX]] == ["Confirm your email address"]
    assert call("GET", f"{base}/api/v1/users/me", token=victim_token)[0] == 200  # nothing ended yet


def test_following_the_link_applies_the_change_tells_the_old_address_and_ends_sessions(world):
    base, victim, manager_token, victim_token = world
    call("POST", f"{base}/api/v1/auth/password/reset", {"email": "victim@example.com"})  # a pending link
    drain()
    [old_reset] = events(PASSWORD_RESET_REQUESTED)
    call("PATCH", f"{base}/api/v1/users/{victim.id}", {"email": "victim.new@example.com"}, manager_token)
    drain()
    [link] = [p for p in events(EMAIL_VERIFICATION_REQUESTED) if p.get("address") == "victim.new@example.com"]
    assert call("POST", f"{base}/api/v1/auth/verify-email", {"token": sealed_token(link)})[0] == 200
    drain()
    user = user_service.get_user(user_id=victim.id)
    assert (user.email, user.pending_email, user.is_verified) == ("victim.new@example.com", "", True)
    notices = [m for m in mail.outbox if m.subject == "The email address of your account was changed"]
    assert [m.to for m in notices] == [["victim@example.com"]]  # the old address is told
    assert call("GET", f"{base}/api/v1/users/me", token=victim_token)[0] == 401  # sessions ended
    confirm = {"token": sealed_token(old_reset), "new_password": "another-Long-passphrase-9"}
    assert call("POST", f"{base}/api/v1/auth/password/reset/confirm", confirm)[0] == 400  # old links spent
    assert (
        call("POST", f"{base}/api/v1/auth/token", {"email": "victim.new@example.com", "password": PASSWORD})[0] == 200
    )
