"""Invitations: by email with a role, mailed with a link carrying the token;
single-use, expiring, revocable, resendable, rate-limited; accepted only by the verified invited
address; an address with no account registers first, then joins. The mail is the real one the
notifications service sends (in-process tasks, django.core.mail.outbox)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from permissions.interface import permission_service
from project.events.models import OutboxEvent
from project.events.relay import relay_all
from tests.orgs.conftest import make_org
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import client_for, error_code
from users.interface import user_service
from users.interface.orgs import org_scope, org_service
from users.models import Invitation

pytestmark = pytest.mark.django_db(transaction=True)

ACCEPT = "/api/v1/orgs/invitations/accept"


def drain():
    while relay_all():
        pass


def token_in_mail(address: str) -> str:
    drain()
    mails = [m for m in mail.outbox if m.to == [address]]
    assert mails, f"no mail to {address}"
    match = re.search(r"/accept-invitation\?token=([A-Za-z0-9_\-%]+)", mails[-1].body)
    assert match, mails[-1].body
    return match.group(1)


@pytest.fixture
def org(in_process_tasks):
    owner = UserFactory()
    org = make_org(owner, "acme")
    drain()
    mail.outbox.clear()
    return org, owner, client_for(owner)


def invite(api, org, email, role="member"):
    response = api.post(f"/api/v1/orgs/{org.id}/invitations", {"email": email, "role": role}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_an_invited_user_gets_a_mail_with_the_link_and_joins_with_the_role(org):
    org, _, api = org
    bob = UserFactory(email="bob@example.com")

    body = invite(api, org, "Bob@Example.com", role="admin")

    assert (body["email"], body["role"], body["status"]) == ("bob@example.com", "admin", "pending")
    assert "token" not in body  # only the mail carries it
    token = token_in_mail("bob@example.com")
    assert mail.outbox[-1].subject.strip() == "You are invited to join Acme"
    response = client_for(bob).post(ACCEPT, {"token": token}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["role"]) == (str(org.id), "admin")
    assert permission_service.check(user_id=bob.id, permission="orgs.invitation.manage", scope=org_scope(org.id))
    assert Invitation.objects.get().status == "accepted"
    assert OutboxEvent.objects.filter(type="orgs.invitation_accepted").count() == 1


def test_an_invitation_is_single_use(org):
    org, _, api = org
    bob = UserFactory(email="bob@example.com")
    invite(api, org, bob.email)
    token = token_in_mail(bob.email)
    bob_api = client_for(bob)
    assert bob_api.post(ACCEPT, {"token": token}, format="json").status_code == 200
    assert bob_api.delete(f"/api/v1/orgs/{org.id}/members/{bob.id}").status_code == 204  # leaves

    again = bob_api.post(ACCEPT, {"token": token}, format="json")

    assert (again.status_code, error_code(again)) == (404, "invitation_not_found")
    assert bob_api.get(f"/api/v1/orgs/{org.id}").status_code == 404


def test_a_wrong_expired_or_revoked_token_is_404_and_joins_nobody(org):
    org, _, api = org
    bob = UserFactory(email="bob@example.com")
    bob_api = client_for(bob)
    first = invite(api, org, bob.email)
    expired_token = token_in_mail(bob.email)
    Invitation.objects.filter(id=first["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    second = invite(api, org, bob.email)
    revoked_token = token_in_mail(bob.email)
    assert api.delete(f"/api/v1/orgs/{org.id}/invitations/{second['id']}").status_code == 204

    for token in ("not-a-token", expired_token, revoked_token, ""):
        response = bob_api.post(ACCEPT, {"token": token}, format="json")
        assert response.status_code in (400, 404)
        if token:
            assert (response.status_code, error_code(response)) == (404, "invitation_not_found")
    assert bob_api.get(f"/api/v1/orgs/{org.id}").status_code == 404
    statuses = {i["id"]: i["status"] for i in api.get(f"/api/v1/orgs/{org.id}/invitations").json()["results"]}
    assert statuses == {first["id"]: "expired", second["id"]: "revoked"}


def test_someone_else_holding_the_link_cannot_use_it(org):
    org, _, api = org
    UserFactory(email="bob@example.com")
    mallory = UserFactory(email="mallory@example.com")
    invite(api, org, "bob@example.com")
    token = token_in_mail("bob@example.com")

    response = client_for(mallory).post(ACCEPT, {"token": token}, format="json")

    assert (response.status_code, error_code(response)) == (404, "invitation_not_found")
    assert Invitation.objects.get().status == "pending"
    assert not permission_service.check(user_id=mallory.id, permission="orgs.org.view", scope=org_scope(org.id))


def test_accepting_needs_the_invited_address_verified(org):
    org, _, api = org
    bob = UserFactory(email="bob@example.com", is_verified=False)
    invite(api, org, bob.email)
    token = token_in_mail(bob.email)

    response = client_for(bob).post(ACCEPT, {"token": token}, format="json")

    assert (response.status_code, error_code(response)) == (403, "email_not_verified")
    assert Invitation.objects.get().status == "pending"
    user_service.update_user(user_id=bob.id, is_verified=True)
    assert client_for(bob).post(ACCEPT, {"token": token}, format="json").status_code == 200


def test_an_address_with_no_account_gets_the_mail_registers_verifies_and_joins(org):
    org, _, api = org
    invite(api, org, "newcomer@example.com")
    token = token_in_mail("newcomer@example.com")
    anonymous = client_for(UserFactory())  # any client; registration is anonymous
    anonymous.credentials()

    registered = anonymous.post(
        "/api/v1/auth/register", {"email": "newcomer@example.com", "password": PASSWORD}, format="json"
    )
    assert registered.status_code == 201
    newcomer = user_service.get_user_by_email(email="newcomer@example.com")
    api_new = client_for(newcomer)
    assert error_code(api_new.post(ACCEPT, {"token": token}, format="json")) == "email_not_verified"
    verify = token_in_mail_verification("newcomer@example.com")
    assert anonymous.post("/api/v1/auth/verify-email", {"token": verify}, format="json").status_code == 200

    response = api_new.post(ACCEPT, {"token": token}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "member"


def token_in_mail_verification(address: str) -> str:
    drain()
    mails = [m for m in mail.outbox if m.to == [address] and "/verify-email" in m.body]
    match = re.search(r"/verify-email\?token=([A-Za-z0-9_\-%]+)", mails[-1].body)
    return match.group(1)


def test_resend_mails_a_new_link_and_the_old_one_stops_working(org):
    org, _, api = org
    bob = UserFactory(email="bob@example.com")
    invitation = invite(api, org, bob.email)
    old = token_in_mail(bob.email)

    response = api.post(f"/api/v1/orgs/{org.id}/invitations/{invitation['id']}/resend")

    assert response.status_code == 200
    assert response.json()["sent_count"] == 2
    new = token_in_mail(bob.email)
    assert new != old
    bob_api = client_for(bob)
    assert bob_api.post(ACCEPT, {"token": old}, format="json").status_code == 404
    assert bob_api.post(ACCEPT, {"token": new}, format="json").status_code == 200


def test_invitations_are_rate_limited_per_org(org, settings):
    org, _, api = org
    settings.GATEHOUSE_ORG_INVITATIONS_PER_HOUR = 2
    invite(api, org, "a@example.com")
    invite(api, org, "b@example.com")

    response = api.post(f"/api/v1/orgs/{org.id}/invitations", {"email": "c@example.com"}, format="json")

    assert (response.status_code, error_code(response)) == (429, "too_many_invitations")
    assert int(response["Retry-After"]) > 0
    assert Invitation.objects.count() == 2


def test_an_admin_cannot_invite_an_owner(org):
    org, owner, _ = org
    admin = UserFactory()
    org_service.add_member(actor_id=owner.id, org_id=org.id, user_id=admin.id, role="admin")

    response = client_for(admin).post(
        f"/api/v1/orgs/{org.id}/invitations", {"email": "x@example.com", "role": "owner"}, format="json"
    )

    assert (response.status_code, error_code(response)) == (403, "org_permission_denied")
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "body", [{"email": "not-an-email"}, {"email": "a@example.com", "role": "emperor"}, {}, {"email": ["a"]}]
)
def test_bad_invitation_input_is_400_and_creates_nothing(org, body):
    org, _, api = org
    response = api.post(f"/api/v1/orgs/{org.id}/invitations", body, format="json")

    assert response.status_code == 400
    assert not Invitation.objects.exists()
