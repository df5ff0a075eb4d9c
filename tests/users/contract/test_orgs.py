"""The org service's contract (users.interface.orgs), against LocalOrgService and against
GrpcOrgService talking to a real `manage.py grpcserve users` (which serves OrgService beside
UserService): the same answers and the same domain errors either way."""

from __future__ import annotations

import uuid

import pytest

from permissions.interface import EscalationDenied
from tests.support.factories import RoleFactory, UserFactory
from users.interface.orgs import (
    InvalidOrgInput,
    InvitationNotFound,
    LastOwner,
    OrgNotFound,
    OrgPermissionDenied,
    OrgService,
    SlugTaken,
)
from users.local import LocalOrgService
from users.rpc.orgs import GrpcOrgService


@pytest.fixture(params=["local", "grpc"])
def orgs(request, transactional_db) -> OrgService:
    if request.param == "local":
        return LocalOrgService()
    return GrpcOrgService(target=request.getfixturevalue("users_grpc_server").target)


def test_an_org_lives_through_its_whole_story_on_both_transports(orgs):
    owner, bob, carol = UserFactory(), UserFactory(), UserFactory(email="carol@example.com")
    deleter = RoleFactory(name="deleter", permissions=["orgs.org.delete"])

    org = orgs.create_org(actor_id=owner.id, name="Acme", slug="acme")
    assert (org.name, org.slug, org.require_mfa) == ("Acme", "acme", False)
    with pytest.raises(SlugTaken):
        orgs.create_org(actor_id=bob.id, name="Other", slug="acme")
    assert orgs.update_org(actor_id=owner.id, org_id=org.id, require_mfa=True).require_mfa is True

    member = orgs.add_member(actor_id=owner.id, org_id=org.id, user_id=bob.id, role="admin")
    assert (member.user_id, member.role, member.email) == (bob.id, "admin", bob.email)
    page = orgs.list_members(actor_id=bob.id, org_id=org.id, limit=1)
    assert len(page.results) == 1 and page.next is not None
    rest = orgs.list_members(actor_id=bob.id, org_id=org.id, cursor=page.next)
    assert {m.user_id for m in (*page.results, *rest.results)} == {owner.id, bob.id}
    assert [(m.org.id, m.role) for m in orgs.list_orgs(user_id=bob.id).results] == [(org.id, "admin")]

    invitation, token = orgs.create_invitation(actor_id=bob.id, org_id=org.id, email=carol.email, role="member")
    assert (invitation.email, invitation.status, invitation.sent_count) == (carol.email, "pending", 1)
    assert [i.id for i in orgs.list_invitations(actor_id=bob.id, org_id=org.id).results] == [invitation.id]
    joined = orgs.accept_invitation(user_id=carol.id, token=token)
    assert (joined.org.id, joined.role) == (org.id, "member")
    with pytest.raises(InvitationNotFound):
        orgs.accept_invitation(user_id=carol.id, token=token)

    with pytest.raises(LastOwner):
        orgs.remove_member(actor_id=owner.id, org_id=org.id, user_id=owner.id)
    with pytest.raises(OrgPermissionDenied):  # only owners touch owners
        orgs.remove_member(actor_id=bob.id, org_id=org.id, user_id=owner.id)
    with pytest.raises(EscalationDenied):  # §3: a role whose permissions bob lacks there
        orgs.grant_member_role(actor_id=bob.id, org_id=org.id, user_id=carol.id, role_id=deleter.id)
    orgs.remove_member(actor_id=bob.id, org_id=org.id, user_id=carol.id)
    with pytest.raises(OrgNotFound):
        orgs.get_org(actor_id=carol.id, org_id=org.id)

    orgs.delete_org(actor_id=owner.id, org_id=org.id)
    with pytest.raises(OrgNotFound):
        orgs.get_org(actor_id=owner.id, org_id=org.id)
    assert orgs.list_orgs(user_id=bob.id).results == ()


def test_refusals_are_the_same_domain_errors_on_both_transports(orgs):
    owner, outsider, member = UserFactory(), UserFactory(), UserFactory()
    org = orgs.create_org(actor_id=owner.id, name="Acme", slug="acme")
    orgs.add_member(actor_id=owner.id, org_id=org.id, user_id=member.id, role="member")

    with pytest.raises(OrgNotFound):
        orgs.list_members(actor_id=outsider.id, org_id=org.id)
    with pytest.raises(OrgNotFound):
        orgs.get_org(actor_id=owner.id, org_id=uuid.uuid4())
    with pytest.raises(OrgPermissionDenied):
        orgs.update_org(actor_id=member.id, org_id=org.id, name="Mine")
    with pytest.raises(InvalidOrgInput):
        orgs.update_member(actor_id=owner.id, org_id=org.id, user_id=member.id, role="emperor")
    with pytest.raises(InvalidOrgInput):
        orgs.create_org(actor_id=owner.id, name="X", slug="not a slug")
    with pytest.raises(InvalidOrgInput):
        orgs.list_orgs(user_id=owner.id, cursor="nonsense")
    assert orgs.get_org(actor_id=member.id, org_id=org.id).name == "Acme"


def test_notification_authorization_member_ids_and_membership_on_both_transports(orgs):
    from users.interface.orgs import MemberNotFound

    owner, admin, member, outsider = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    org = orgs.create_org(actor_id=owner.id, name="Acme", slug="acme")
    orgs.add_member(actor_id=owner.id, org_id=org.id, user_id=admin.id, role="admin")
    orgs.add_member(actor_id=owner.id, org_id=org.id, user_id=member.id, role="member")
    oncall = RoleFactory(name="oncall", permissions=["orgs.org.view"])
    orgs.grant_member_role(actor_id=owner.id, org_id=org.id, user_id=member.id, role_id=oncall.id)

    assert orgs.authorize_notification(actor_id=admin.id, org_id=org.id).id == org.id
    with pytest.raises(OrgPermissionDenied):
        orgs.authorize_notification(actor_id=member.id, org_id=org.id)
    with pytest.raises(OrgNotFound):
        orgs.authorize_notification(actor_id=outsider.id, org_id=org.id)

    assert set(orgs.member_ids(org_id=org.id)) == {owner.id, admin.id, member.id}
    assert orgs.member_ids(org_id=org.id, role="admin") == [admin.id]
    assert orgs.member_ids(org_id=org.id, role="oncall") == [member.id]
    with pytest.raises(InvalidOrgInput):
        orgs.member_ids(org_id=org.id, role="no-such-role")
    with pytest.raises(OrgNotFound):
        orgs.member_ids(org_id=uuid.uuid4())

    membership = orgs.get_membership(user_id=admin.id, org_id=org.id)
    assert (membership.org.slug, membership.role) == ("acme", "admin")
    with pytest.raises(MemberNotFound):
        orgs.get_membership(user_id=outsider.id, org_id=org.id)


def test_domains_and_joining_by_domain_on_both_transports(orgs):
    from users.interface.orgs import AlreadyMember, DomainNotFound, DomainTaken

    owner, rival_owner = UserFactory(), UserFactory()
    org = orgs.create_org(actor_id=owner.id, name="Acme", slug="acme-dom")
    rival = orgs.create_org(actor_id=rival_owner.id, name="Rival", slug="rival-dom")

    with pytest.raises(InvalidOrgInput) as bad:
        orgs.add_domain(actor_id=owner.id, org_id=org.id, domain="https://acme.example/")
    assert bad.value.details["domain"]
    pending, token = orgs.add_domain(actor_id=owner.id, org_id=org.id, domain="Acme.Example.")
    assert (pending.domain, pending.record, pending.verified_at) == (
        "acme.example",
        "_gatehouse-challenge.acme.example",
        None,
    )
    assert token and [d.id for d in orgs.list_domains(actor_id=owner.id, org_id=org.id)] == [pending.id]
    admin = UserFactory()
    orgs.add_member(actor_id=owner.id, org_id=org.id, user_id=admin.id, role="admin")
    with pytest.raises(OrgPermissionDenied):
        orgs.add_domain(actor_id=admin.id, org_id=org.id, domain="x.example")  # owners only
    with pytest.raises(OrgNotFound):
        orgs.list_domains(actor_id=rival_owner.id, org_id=org.id)
    with pytest.raises(DomainNotFound):
        orgs.delete_domain(actor_id=rival_owner.id, org_id=rival.id, domain_id=pending.id)

    verified = orgs.confirm_domain(org_id=org.id, domain="acme.example")
    assert (verified.id, verified.verified_by) == (pending.id, "operator") and verified.verified_at is not None
    with pytest.raises(DomainTaken):
        orgs.confirm_domain(org_id=rival.id, domain="ACME.example")
    # The system (actor None) reads them with their state: SCIM org tokens write addresses only at
    # the verified ones (docs/scim.md).
    orgs.add_domain(actor_id=rival_owner.id, org_id=rival.id, domain="rival.example")  # pending
    system = {d.domain: d.verified_at is not None for d in orgs.list_domains(actor_id=None, org_id=org.id)}
    assert system == {"acme.example": True}
    assert [(d.domain, d.verified_at) for d in orgs.list_domains(actor_id=None, org_id=rival.id)] == [
        ("rival.example", None)
    ]
    with pytest.raises(OrgNotFound):
        orgs.list_domains(actor_id=None, org_id=uuid.uuid4())

    early = UserFactory(email="early@acme.example")
    assert orgs.list_joinable_orgs(user_id=early.id) == []  # domain_join off
    updated = orgs.update_org(actor_id=owner.id, org_id=org.id, domain_join="allow")
    assert updated.domain_join == "allow"
    assert [o.id for o in orgs.list_joinable_orgs(user_id=early.id)] == [org.id]
    assert orgs.join_orgs_by_domain(user_id=early.id) == []  # allow: they choose
    joined = orgs.join_org(user_id=early.id, org_id=org.id)
    assert (joined.org.id, joined.role) == (org.id, "member")
    with pytest.raises(AlreadyMember):
        orgs.join_org(user_id=early.id, org_id=org.id)
    with pytest.raises(OrgNotFound):
        orgs.join_org(user_id=early.id, org_id=rival.id)

    late = UserFactory(email="late@acme.example")
    orgs.update_org(actor_id=owner.id, org_id=org.id, domain_join="auto")  # the sweep joins `late`
    assert orgs.join_orgs_by_domain(user_id=late.id) == []  # already in
    assert {m.user_id for m in orgs.list_members(actor_id=owner.id, org_id=org.id).results} == {
        owner.id,
        admin.id,
        early.id,
        late.id,
    }
    orgs.delete_domain(actor_id=owner.id, org_id=org.id, domain_id=pending.id)
    assert orgs.list_domains(actor_id=owner.id, org_id=org.id) == []
