"""Split shape: the orgs REST API in this process, the org service (and the RBAC writes it makes)
in a real `manage.py grpcserve users` process. Every org route answers as in one process:
isolation as 404, roles, the last owner, invitations, removal revoking the grants."""

from __future__ import annotations

import pytest

from project.kernel.delegation import provide, provided
from tests.orgs.conftest import turn_on_totp
from tests.support.factories import UserFactory
from tests.support.http import client_for, error_code
from users.interface.orgs import SERVICE_NAME, OrgService, org_service
from users.rpc.orgs import GrpcOrgService

ORGS = "/api/v1/orgs"


@pytest.fixture
def remote_orgs(transactional_db, users_grpc_server):
    """`org_service` is the gRPC client for the test, as USERS_GRPC_TARGET makes it."""
    installed = provided(SERVICE_NAME)
    provide(SERVICE_NAME, GrpcOrgService(target=users_grpc_server.target), interface=OrgService)
    yield
    provide(SERVICE_NAME, installed, interface=OrgService)


def test_the_orgs_api_works_the_same_with_the_org_service_behind_grpc(remote_orgs):
    assert isinstance(provided(SERVICE_NAME), GrpcOrgService)
    owner, bob, outsider = UserFactory(), UserFactory(email="bob@example.com"), UserFactory()
    api, bob_api, outsider_api = client_for(owner), client_for(bob), client_for(outsider)

    created = api.post(ORGS, {"name": "Acme", "slug": "acme"}, format="json")
    assert created.status_code == 201, created.content
    org_id = created.json()["id"]
    assert error_code(api.post(ORGS, {"name": "Again", "slug": "acme"}, format="json")) == "slug_taken"
    assert [(o["id"], o["role"]) for o in api.get(ORGS).json()["results"]] == [(org_id, "owner")]
    refused = api.patch(f"{ORGS}/{org_id}", {"require_mfa": True}, format="json")
    assert (refused.status_code, error_code(refused)) == (403, "mfa_required")  # not without one's own
    api = turn_on_totp(owner)
    assert api.patch(f"{ORGS}/{org_id}", {"require_mfa": True}, format="json").json()["require_mfa"] is True

    invited = api.post(f"{ORGS}/{org_id}/invitations", {"email": bob.email, "role": "admin"}, format="json")
    assert invited.status_code == 201, invited.content
    assert [i["status"] for i in api.get(f"{ORGS}/{org_id}/invitations").json()["results"]] == ["pending"]
    assert api.delete(f"{ORGS}/{org_id}/invitations/{invited.json()['id']}").status_code == 204
    _, token = org_service.create_invitation(actor_id=owner.id, org_id=org_id, email=bob.email, role="admin")
    accepted = bob_api.post(f"{ORGS}/invitations/accept", {"token": token}, format="json")
    assert (accepted.status_code, accepted.json()["role"]) == (200, "admin")
    assert bob_api.post(f"{ORGS}/invitations/accept", {"token": token}, format="json").status_code == 404

    for path in ("", "/members", "/invitations", f"/members/{bob.id}/roles"):
        response = outsider_api.get(f"{ORGS}/{org_id}{path}")
        assert (response.status_code, error_code(response)) == (404, "org_not_found"), path
    assert outsider_api.get(ORGS).json()["results"] == []

    # The org requires a second factor: bob, without one, reads the org and nothing else.
    assert bob_api.get(f"{ORGS}/{org_id}").json()["require_mfa"] is True
    refused = bob_api.get(f"{ORGS}/{org_id}/members")
    assert (refused.status_code, error_code(refused)) == (403, "mfa_required")
    bob_api = turn_on_totp(bob)
    demote = bob_api.patch(f"{ORGS}/{org_id}/members/{owner.id}", {"role": "member"}, format="json")
    assert (demote.status_code, error_code(demote)) == (403, "org_permission_denied")  # only owners touch owners
    last = api.delete(f"{ORGS}/{org_id}/members/{owner.id}")
    assert (last.status_code, error_code(last)) == (409, "last_owner")
    members = api.get(f"{ORGS}/{org_id}/members").json()["results"]
    assert {(m["email"], m["role"]) for m in members} == {(owner.email, "owner"), (bob.email, "admin")}

    assert api.delete(f"{ORGS}/{org_id}/members/{bob.id}").status_code == 204
    assert bob_api.get(f"{ORGS}/{org_id}").status_code == 404
    assert api.delete(f"{ORGS}/{org_id}").status_code == 204
    assert api.get(ORGS).json()["results"] == []


def test_notifying_an_orgs_members_works_with_the_org_service_behind_grpc(remote_orgs, in_process_tasks):
    """POST /api/v1/orgs/{id}/notifications: authorization, recipients and the per-delivery
    membership check all reach the org service over gRPC."""
    from notifications.interface import notification_service

    assert isinstance(provided(SERVICE_NAME), GrpcOrgService)
    owner, member, outsider = UserFactory(), UserFactory(), UserFactory()
    org = org_service.create_org(actor_id=owner.id, name="Acme", slug="acme")
    org_service.add_member(actor_id=owner.id, org_id=org.id, user_id=member.id, role="member")
    body = {"type": "announcement", "context": {"subject": "Hi", "body": "All"}, "channels": ["in_app"]}

    sent = client_for(owner).post(f"{ORGS}/{org.id}/notifications", body, format="json")
    as_member = client_for(member).post(f"{ORGS}/{org.id}/notifications", body, format="json")
    as_outsider = client_for(outsider).post(f"{ORGS}/{org.id}/notifications", body, format="json")

    assert sent.status_code == 202, sent.content
    deliveries = notification_service.get_deliveries(notification_id=sent.json()["id"])
    assert {(d.user_id, d.status) for d in deliveries} == {(owner.id, "sent"), (member.id, "sent")}
    assert (as_member.status_code, error_code(as_member)) == (403, "org_permission_denied")
    assert (as_outsider.status_code, error_code(as_outsider)) == (404, "org_not_found")
