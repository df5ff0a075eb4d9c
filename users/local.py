"""The in-process implementation of UserService."""

from __future__ import annotations

import uuid

from django.contrib.auth.hashers import is_password_usable

from users.core import org_domains, orgs, selectors, services
from users.interface import DEFAULT_PAGE_SIZE, User, UserPage
from users.interface.orgs import (
    Invitation,
    InvitationPage,
    Member,
    MemberGrant,
    MemberPage,
    Membership,
    MembershipPage,
    Organization,
    OrgDomain,
)
from users.models import Invitation as InvitationModel
from users.models import Organization as OrganizationModel
from users.models import OrgDomain as OrgDomainModel
from users.models import User as UserModel


def to_data(user: UserModel) -> User:
    return User(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_active=user.is_active,
        is_verified=user.is_verified,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        date_joined=user.date_joined,
        pending_email=user.pending_email,
        has_password=user.has_usable_password(),
    )


def _joined_by_domain(before: UserModel, after: UserModel) -> None:
    """An email that has just become verified (verified now, or a verified new address) joins the
    `auto` orgs of its domain (docs/orgs.md). After the write's transaction: the grants are
    another service's. Leaving such an org sticks until the next verification."""
    if after.is_verified and (not before.is_verified or before.email != after.email):
        org_domains.join_orgs_by_domain(user_id=after.id)


class LocalUserService:
    def create_user(
        self,
        *,
        email: str,
        password: str | None = None,
        display_name: str = "",
        is_active: bool = True,
        is_verified: bool = False,
        is_staff: bool = False,
        is_superuser: bool = False,
    ) -> User:
        user = services.create_user(
            email=email,
            password=password,
            display_name=display_name,
            is_active=is_active,
            is_verified=is_verified,
            is_staff=is_staff,
            is_superuser=is_superuser,
        )
        if user.is_verified:
            org_domains.join_orgs_by_domain(user_id=user.id)
        return to_data(user)

    def get_user(self, *, user_id: uuid.UUID) -> User:
        fields = selectors.get_user_fields(user_id=user_id)
        password = fields.pop("password")
        return User(**fields, has_password=is_password_usable(password))

    def get_user_by_email(self, *, email: str) -> User:
        return to_data(selectors.get_user_by_email(email=email))

    def get_users(self, *, user_ids: list[uuid.UUID]) -> list[User]:
        return [to_data(user) for user in selectors.get_users(user_ids=user_ids)]

    def list_users(
        self,
        *,
        search: str | None = None,
        is_active: bool | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> UserPage:
        users, next_cursor = selectors.list_users(search=search, is_active=is_active, limit=limit, cursor=cursor)
        return UserPage(results=tuple(to_data(user) for user in users), next=next_cursor)

    def update_user(
        self,
        *,
        user_id: uuid.UUID,
        email: str | None = None,
        display_name: str | None = None,
        is_verified: bool | None = None,
    ) -> User:
        before = selectors.get_user(user_id=user_id)
        user = services.update_user(user_id=user_id, email=email, display_name=display_name, is_verified=is_verified)
        _joined_by_domain(before, user)
        return to_data(user)

    def confirm_email_change(self, *, user_id: uuid.UUID, email: str) -> User:
        before = selectors.get_user(user_id=user_id)
        user = services.confirm_email_change(user_id=user_id, email=email)
        _joined_by_domain(before, user)
        return to_data(user)

    def verify_password(self, *, email: str, password: str) -> User | None:
        user = services.verify_password(email=email, password=password)
        return None if user is None else to_data(user)

    def check_password(self, *, user_id: uuid.UUID, password: str) -> bool:
        return services.check_password(user_id=user_id, password=password)

    def set_password(self, *, user_id: uuid.UUID, password: str) -> None:
        services.set_password(user_id=user_id, password=password)

    def deactivate_user(self, *, user_id: uuid.UUID) -> User:
        return to_data(services.deactivate_user(user_id=user_id))

    def reactivate_user(self, *, user_id: uuid.UUID) -> User:
        return to_data(services.reactivate_user(user_id=user_id))


# --- Organizations (users.interface.orgs) ----------------------------------------------------------


def org_data(org: OrganizationModel) -> Organization:
    return Organization(
        id=org.id,
        name=org.name,
        slug=org.slug,
        require_mfa=org.require_mfa,
        domain_join=org.domain_join,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def invitation_data(invitation: InvitationModel) -> Invitation:
    return Invitation(
        id=invitation.id,
        org_id=invitation.org_id,
        email=invitation.email,
        role=invitation.role,
        status=invitation.status,
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        sent_count=invitation.sent_count,
    )


def _member(user: User, role: str, joined_at) -> Member:
    return Member(user_id=user.id, email=user.email, display_name=user.display_name, role=role, joined_at=joined_at)


def _grant(assignment) -> MemberGrant:
    return MemberGrant(
        id=assignment.id,
        role_id=assignment.role_id,
        role_name=assignment.role_name,
        user_id=assignment.user_id,
        created_at=assignment.created_at,
    )


class LocalOrgService:
    def create_org(self, *, actor_id: uuid.UUID, name: str, slug: str) -> Organization:
        return org_data(orgs.create_org(actor_id=actor_id, name=name, slug=slug))

    def list_orgs(
        self, *, user_id: uuid.UUID, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> MembershipPage:
        rows, next_cursor = orgs.list_orgs(user_id=user_id, limit=limit, cursor=cursor)
        return MembershipPage(
            results=tuple(Membership(org=org_data(org), role=role, joined_at=at) for org, role, at in rows),
            next=next_cursor,
        )

    def get_org(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> Organization:
        return org_data(orgs.get_org(actor_id=actor_id, org_id=org_id))

    def update_org(
        self,
        *,
        actor_id: uuid.UUID | None,
        org_id: uuid.UUID,
        name: str | None = None,
        require_mfa: bool | None = None,
        domain_join: str | None = None,
    ) -> Organization:
        org, auto_on = orgs.update_org(
            actor_id=actor_id, org_id=org_id, name=name, require_mfa=require_mfa, domain_join=domain_join
        )
        if auto_on:  # after the write: the grants are the permissions service's
            org_domains.auto_join_existing(org=org)
        return org_data(org)

    def delete_org(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> None:
        orgs.delete_org(actor_id=actor_id, org_id=org_id)

    def list_members(
        self,
        *,
        actor_id: uuid.UUID | None,
        org_id: uuid.UUID,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> MemberPage:
        rows, next_cursor = orgs.list_members(actor_id=actor_id, org_id=org_id, limit=limit, cursor=cursor)
        return MemberPage(results=tuple(_member(*row) for row in rows), next=next_cursor)

    def add_member(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role: str) -> Member:
        return _member(*orgs.add_member(actor_id=actor_id, org_id=org_id, user_id=user_id, role=role))

    def update_member(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role: str) -> Member:
        return _member(*orgs.update_member(actor_id=actor_id, org_id=org_id, user_id=user_id, role=role))

    def remove_member(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
        orgs.remove_member(actor_id=actor_id, org_id=org_id, user_id=user_id)

    def grant_member_role(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role_id: uuid.UUID
    ) -> MemberGrant:
        return _grant(orgs.grant_member_role(actor_id=actor_id, org_id=org_id, user_id=user_id, role_id=role_id))

    def list_member_roles(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID
    ) -> list[MemberGrant]:
        return [_grant(a) for a in orgs.list_member_roles(actor_id=actor_id, org_id=org_id, user_id=user_id)]

    def revoke_member_role(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, grant_id: uuid.UUID
    ) -> None:
        orgs.revoke_member_role(actor_id=actor_id, org_id=org_id, user_id=user_id, grant_id=grant_id)

    def get_membership(self, *, user_id: uuid.UUID, org_id: uuid.UUID) -> Membership:
        org, role, joined_at = orgs.get_membership(user_id=user_id, org_id=org_id)
        return Membership(org=org_data(org), role=role, joined_at=joined_at)

    def authorize_notification(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> Organization:
        return org_data(orgs.authorize_notification(actor_id=actor_id, org_id=org_id))

    def member_ids(self, *, org_id: uuid.UUID, role: str | None = None) -> list[uuid.UUID]:
        return orgs.member_ids(org_id=org_id, role=role)

    def create_invitation(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, email: str, role: str
    ) -> tuple[Invitation, str]:
        invitation, token = orgs.create_invitation(actor_id=actor_id, org_id=org_id, email=email, role=role)
        return invitation_data(invitation), token

    def list_invitations(
        self,
        *,
        actor_id: uuid.UUID | None,
        org_id: uuid.UUID,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> InvitationPage:
        rows, next_cursor = orgs.list_invitations(actor_id=actor_id, org_id=org_id, limit=limit, cursor=cursor)
        return InvitationPage(results=tuple(invitation_data(i) for i in rows), next=next_cursor)

    def revoke_invitation(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        orgs.revoke_invitation(actor_id=actor_id, org_id=org_id, invitation_id=invitation_id)

    def resend_invitation(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> tuple[Invitation, str]:
        invitation, token = orgs.resend_invitation(actor_id=actor_id, org_id=org_id, invitation_id=invitation_id)
        return invitation_data(invitation), token

    def accept_invitation(self, *, user_id: uuid.UUID, token: str) -> Membership:
        org, role, joined_at = orgs.accept_invitation(user_id=user_id, token=token)
        return Membership(org=org_data(org), role=role, joined_at=joined_at)

    # Verified domains.

    def add_domain(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain: str) -> tuple[OrgDomain, str]:
        row, token = org_domains.add_domain(actor_id=actor_id, org_id=org_id, domain=domain)
        return domain_data(row), token

    def list_domains(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> list[OrgDomain]:
        return [domain_data(row) for row in org_domains.list_domains(actor_id=actor_id, org_id=org_id)]

    def verify_domain(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain_id: uuid.UUID) -> OrgDomain:
        return domain_data(org_domains.verify_domain(actor_id=actor_id, org_id=org_id, domain_id=domain_id))

    def confirm_domain(self, *, org_id: uuid.UUID, domain: str) -> OrgDomain:
        return domain_data(org_domains.confirm_domain(org_id=org_id, domain=domain))

    def delete_domain(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain_id: uuid.UUID) -> None:
        org_domains.delete_domain(actor_id=actor_id, org_id=org_id, domain_id=domain_id)

    def list_joinable_orgs(self, *, user_id: uuid.UUID) -> list[Organization]:
        return [org_data(org) for org in org_domains.list_joinable_orgs(user_id=user_id)]

    def join_org(self, *, user_id: uuid.UUID, org_id: uuid.UUID) -> Membership:
        return _my_membership(org_domains.join_org(user_id=user_id, org_id=org_id), user_id)

    def join_orgs_by_domain(self, *, user_id: uuid.UUID) -> list[Membership]:
        return [_my_membership(org, user_id) for org in org_domains.join_orgs_by_domain(user_id=user_id)]


def domain_data(row: OrgDomainModel) -> OrgDomain:
    return OrgDomain(
        id=row.id,
        org_id=row.org_id,
        domain=row.domain,
        record=row.record,
        verified_at=row.verified_at,
        verified_by=row.verified_by,
        created_at=row.created_at,
    )


def _my_membership(org: OrganizationModel, user_id: uuid.UUID) -> Membership:
    assignment = orgs._member(org.id, user_id)
    return Membership(
        org=org_data(org), role=orgs._role_name(assignment.role_id) or "member", joined_at=assignment.created_at
    )
