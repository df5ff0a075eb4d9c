"""Organizations: the tenants of the users core service.

Standard library only. `org_service` is the configured implementation: in-process, or the gRPC
client of `gatehouse.users.v1.OrgService` when `USERS_GRPC_TARGET` is set (the users service
serves it: the Organization and Invitation rows live in its database).

Membership is not a table of its own: a member of org X is a user holding one of the RBAC system
roles `org_owner`, `org_admin`, `org_member` (shown as `owner`, `admin`, `member`) in scope
`org:<X's id>`, held by the permissions service. So there is one source of truth, `joined_at` is
the assignment's creation, and removing a member is the RBAC revoke with its §3 guarantee
(docs/orgs.md, docs/architecture.md "Organizations").

Every method that takes `actor_id` acts for that user and authorizes them: an org the actor may
not see (no `orgs.org.view` in its scope) is OrgNotFound, exactly as one that does not exist.
`actor_id=None` is the system itself (manage.py, the admin after its own permission check).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from project.kernel.delegation import delegate
from project.kernel.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)

# The delegation name; the users service serves it (apps.py, `served_by`).
SERVICE_NAME = "orgs"

# Event types (docs/events.md); produced by the users service, named after the feature.
ORG_CREATED = "orgs.org_created"
ORG_UPDATED = "orgs.org_updated"
ORG_DELETED = "orgs.org_deleted"
MEMBER_ADDED = "orgs.member_added"
MEMBER_ROLE_CHANGED = "orgs.member_role_changed"
MEMBER_REMOVED = "orgs.member_removed"
INVITATION_SENT = "orgs.invitation_sent"
INVITATION_REVOKED = "orgs.invitation_revoked"
INVITATION_ACCEPTED = "orgs.invitation_accepted"
DOMAIN_ADDED = "orgs.domain_added"
DOMAIN_VERIFIED = "orgs.domain_verified"
DOMAIN_REMOVED = "orgs.domain_removed"

# An org's `domain_join` setting: who may join by the verified domain of their verified email.
DOMAIN_JOIN_OFF = "off"  # nobody (the default)
DOMAIN_JOIN_ALLOW = "allow"  # they may join as `member` themselves (POST /orgs/{id}/join)
DOMAIN_JOIN_AUTO = "auto"  # they are made `member` when their email is verified (and may join too)
DOMAIN_JOIN_MODES = (DOMAIN_JOIN_OFF, DOMAIN_JOIN_ALLOW, DOMAIN_JOIN_AUTO)
# The DNS TXT record that proves control of a domain: `_gatehouse-challenge.<domain>` = the token.
DOMAIN_CHALLENGE_LABEL = "_gatehouse-challenge"

# The org roles as the API names them, strongest first.
OWNER = "owner"
ADMIN = "admin"
MEMBER = "member"
ORG_ROLES = (OWNER, ADMIN, MEMBER)

# Permission codes checked in scope `org:<id>` (declared in permissions.core.registry).
ORG_VIEW = "orgs.org.view"
ORG_MANAGE = "orgs.org.manage"
ORG_DELETE = "orgs.org.delete"
MEMBER_VIEW = "orgs.member.view"
MEMBER_MANAGE = "orgs.member.manage"
INVITATION_MANAGE = "orgs.invitation.manage"
OWNER_MANAGE = "orgs.owner.manage"
NOTIFICATION_SEND = "orgs.notification.send"
DOMAIN_MANAGE = "orgs.domain.manage"

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
SLUG_MAX = 50
NAME_MAX = 150


def org_scope(org_id: uuid.UUID) -> str:
    """The RBAC scope of an organization: `org:<id>` (its id, not its slug, which may change)."""
    return f"org:{org_id}"


@dataclass(frozen=True, slots=True)
class Organization:
    id: uuid.UUID
    name: str
    slug: str
    # Policy: people without a second factor are refused the org's routes (mfa_required), but for
    # reading the org and leaving it. Enforced by the app services (gateway.orgs), not by this
    # service nor by the permission check (docs/orgs.md, "Policy: require_mfa").
    require_mfa: bool
    domain_join: str  # DOMAIN_JOIN_MODES
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Membership:
    """One of the caller's orgs, with their role in it."""

    org: Organization
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class MembershipPage:
    results: tuple[Membership, ...]
    next: str | None


@dataclass(frozen=True, slots=True)
class Member:
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class MemberPage:
    results: tuple[Member, ...]
    next: str | None


@dataclass(frozen=True, slots=True)
class MemberGrant:
    """A custom role granted to a member in the org's scope (an RBAC assignment)."""

    id: uuid.UUID
    role_id: uuid.UUID
    role_name: str
    user_id: uuid.UUID
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str
    status: str  # pending, accepted, revoked, expired
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    sent_count: int


@dataclass(frozen=True, slots=True)
class InvitationPage:
    results: tuple[Invitation, ...]
    next: str | None


@dataclass(frozen=True, slots=True)
class OrgDomain:
    """A domain an org claims; `verified_at` is set once it proved control (DNS) or an operator
    confirmed it. The challenge token is never stored in clear, never shown again."""

    id: uuid.UUID
    org_id: uuid.UUID
    domain: str  # A-labels, lower case, no trailing dot
    record: str  # the TXT record's name: _gatehouse-challenge.<domain>
    verified_at: datetime | None
    verified_by: str  # "", "dns" or "operator"
    created_at: datetime


class OrgNotFound(NotFound):
    code = "org_not_found"
    default_message = "Organization not found."


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = "Member not found."


class InvitationNotFound(NotFound):
    code = "invitation_not_found"
    default_message = "Invitation not found."


class DomainNotFound(NotFound):
    code = "domain_not_found"
    default_message = "Domain not found."


class DomainTaken(Conflict):
    code = "domain_taken"
    default_message = "This domain is already claimed: added to this organization, or verified by another."


class DomainVerificationFailed(Conflict):
    code = "domain_verification_failed"
    default_message = "The DNS TXT record that proves control of the domain was not found with the right value."


class DnsUnavailable(ServiceUnavailable):
    code = "dns_unavailable"
    default_message = "The DNS lookup failed; try again later."


class SlugTaken(Conflict):
    code = "slug_taken"
    default_message = "An organization with this slug already exists."


class LastOwner(Conflict):
    code = "last_owner"
    default_message = "The last owner of an organization cannot leave, be removed or be demoted."


class AlreadyMember(Conflict):
    code = "already_member"
    default_message = "This user is already a member of the organization."


class OrgPermissionDenied(PermissionDenied):
    code = "org_permission_denied"
    default_message = "Your role in this organization does not allow this."


class EmailNotVerified(PermissionDenied):
    code = "email_not_verified"
    default_message = "Verify your email address first: an invitation is accepted by the verified invited address."


# Where a person turns on the second factor an org's `require_mfa` asks for (contract §2).
TOTP_ENROLL_PATH = "/api/v1/auth/mfa/totp"
TOTP_CONFIRM_PATH = "/api/v1/auth/mfa/totp/confirm"


class OrgMfaRequired(PermissionDenied):
    """The org requires two-factor authentication and the caller has none (or, turning the policy
    on, the caller has none themselves)."""

    code = "mfa_required"
    default_message = (
        "This organization requires two-factor authentication. Turn on TOTP first: "
        f"POST {TOTP_ENROLL_PATH} with your password, then POST {TOTP_CONFIRM_PATH} with a code."
    )


class InvitationsThrottled(RateLimited):
    code = "too_many_invitations"
    default_message = "Too many invitations from this organization; try again later."


class InvalidOrgInput(InvalidArgument):
    """Field-level validation failure; `details` maps field names to lists of messages."""


class OrgService(Protocol):
    # Organizations.

    def create_org(self, *, actor_id: uuid.UUID, name: str, slug: str) -> Organization:
        """Create an organization whose `owner` is the actor, and emit `orgs.org_created`. The
        actor must be an active user with a verified email (else OrgPermissionDenied). The slug is
        lower case letters, digits and hyphens. Raises InvalidOrgInput, SlugTaken."""
        ...

    def list_orgs(
        self, *, user_id: uuid.UUID, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> MembershipPage:
        """The orgs the user is a member of, with their role, most recently joined first
        (keyset-paged). Raises InvalidOrgInput for a bad limit or cursor."""
        ...

    def get_org(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> Organization:
        """The org, for an actor who may see it. Raises OrgNotFound."""
        ...

    def update_org(
        self,
        *,
        actor_id: uuid.UUID | None,
        org_id: uuid.UUID,
        name: str | None = None,
        require_mfa: bool | None = None,
        domain_join: str | None = None,
    ) -> Organization:
        """Change the given fields (`orgs.org.manage`: admins and owners). Emits `orgs.org_updated`
        when something changed. Turning `domain_join` to `auto` makes the verified users at the
        org's verified domains members. Raises OrgNotFound, OrgPermissionDenied, InvalidOrgInput."""
        ...

    def delete_org(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> None:
        """Delete the org (`orgs.org.delete`: owners), its invitations, and then every RBAC
        assignment in its scope and below. Raises OrgNotFound, OrgPermissionDenied."""
        ...

    # Members.

    def list_members(
        self,
        *,
        actor_id: uuid.UUID | None,
        org_id: uuid.UUID,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> MemberPage:
        """The members, most recently joined first (keyset-paged). Raises OrgNotFound,
        InvalidOrgInput."""
        ...

    def add_member(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role: str) -> Member:
        """Make an existing active user a member with `role` (an org role). The actor needs
        `orgs.member.manage` and, for `owner`, `orgs.owner.manage`; the RBAC grant checks
        escalation too. Emits `orgs.member_added`. Raises OrgNotFound, OrgPermissionDenied,
        EscalationDenied, AlreadyMember, InvalidOrgInput, UserNotFound."""
        ...

    def update_member(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role: str) -> Member:
        """Change a member's org role. Only owners touch owners (to or from `owner`); the last
        owner cannot be demoted (LastOwner). Emits `orgs.member_role_changed`. Raises OrgNotFound,
        MemberNotFound, OrgPermissionDenied, EscalationDenied, LastOwner, InvalidOrgInput."""
        ...

    def remove_member(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Remove a member (a member may remove themselves: leave): every RBAC assignment of the
        user in the org's scope and below is revoked, and once this returns no check answers with
        them. The actor must hold, in the org's scope, every permission the member holds there
        (EscalationDenied otherwise: an admin cannot remove an owner, or a global administrator).
        Emits `orgs.member_removed`. Raises OrgNotFound, MemberNotFound, OrgPermissionDenied,
        EscalationDenied, LastOwner."""
        ...

    def grant_member_role(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role_id: uuid.UUID
    ) -> MemberGrant:
        """Grant a member a custom role in the org's scope (`orgs.member.manage`, and §3: the actor
        must hold every permission of the role there). Org roles are changed by update_member.
        Raises OrgNotFound, MemberNotFound, OrgPermissionDenied, EscalationDenied, RoleNotFound,
        InvalidOrgInput."""
        ...

    def list_member_roles(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID
    ) -> list[MemberGrant]:
        """The custom roles the member holds in the org's scope (exactly), newest first.
        Raises OrgNotFound, MemberNotFound."""
        ...

    def revoke_member_role(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, grant_id: uuid.UUID
    ) -> None:
        """Revoke a custom role granted in the org's scope (`orgs.member.manage`). Raises
        OrgNotFound, MemberNotFound, OrgPermissionDenied."""
        ...

    def get_membership(self, *, user_id: uuid.UUID, org_id: uuid.UUID) -> Membership:
        """The user's membership of the org, with their org role (for the system: the OIDC
        provider's org claims). Raises OrgNotFound, MemberNotFound."""
        ...

    # Notifications to an org's members (docs/orgs.md, "Notifications").

    def authorize_notification(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> Organization:
        """The org, if the actor may notify its members (`orgs.notification.send` in its scope:
        admins and owners). Raises OrgNotFound (an org the actor may not see), OrgPermissionDenied."""
        ...

    def member_ids(self, *, org_id: uuid.UUID, role: str | None = None) -> list[uuid.UUID]:
        """For the system: the org's current members (unexpired org-role assignments in exactly
        its scope), or those of them who hold `role`: an org role (`owner`, `admin`, `member`:
        that role itself, not the stronger ones) or the name of a custom role granted in exactly
        the org's scope (to them or to a group of theirs, unexpired). Raises OrgNotFound,
        InvalidOrgInput (`role`: unknown)."""
        ...

    # Invitations.

    def create_invitation(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, email: str, role: str
    ) -> tuple[Invitation, str]:
        """Invite `email` with an org role (`orgs.invitation.manage`; `owner` needs
        `orgs.owner.manage`); returns the invitation and its token (shown only here, mailed by
        the `orgs.invitation_sent` event). Rate-limited per org. Raises OrgNotFound,
        OrgPermissionDenied, InvalidOrgInput, InvitationsThrottled."""
        ...

    def list_invitations(
        self,
        *,
        actor_id: uuid.UUID | None,
        org_id: uuid.UUID,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> InvitationPage:
        """The org's invitations, newest first (keyset-paged). Raises OrgNotFound,
        OrgPermissionDenied, InvalidOrgInput."""
        ...

    def revoke_invitation(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        """Revoke a pending invitation: its token stops working. Raises OrgNotFound,
        OrgPermissionDenied, InvitationNotFound (also when not pending)."""
        ...

    def resend_invitation(
        self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> tuple[Invitation, str]:
        """Mail a pending invitation again with a new token (the old one stops working) and a
        new expiry. Rate-limited like creation. Raises OrgNotFound, OrgPermissionDenied,
        InvitationNotFound, InvitationsThrottled."""
        ...

    def accept_invitation(self, *, user_id: uuid.UUID, token: str) -> Membership:
        """Join the org with the invitation's role. The token must be pending and unexpired and
        the user's verified email the invited one; anything else is InvitationNotFound, except a
        right invitation whose address the user has not verified yet (EmailNotVerified). An
        accepted invitation is spent. Emits `orgs.invitation_accepted` and `orgs.member_added`."""
        ...

    # Verified domains and joining by domain.

    def add_domain(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain: str) -> tuple[OrgDomain, str]:
        """Claim a domain (`orgs.domain.manage`: owners); returns it, pending, and the token to put
        in its TXT record (shown only here). Emits `orgs.domain_added`. Raises OrgNotFound,
        OrgPermissionDenied, InvalidOrgInput (not a domain name), DomainTaken (already this org's,
        or verified by another org)."""
        ...

    def list_domains(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> list[OrgDomain]:
        """The org's domains, newest first (`orgs.domain.manage`). Raises OrgNotFound, OrgPermissionDenied."""
        ...

    def verify_domain(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain_id: uuid.UUID) -> OrgDomain:
        """Look up `_gatehouse-challenge.<domain>` TXT and verify the domain when a value is the
        token (`orgs.domain.manage`). Emits `orgs.domain_verified`; with `domain_join` `auto`, the
        verified users at the domain become members. Raises OrgNotFound, OrgPermissionDenied,
        DomainNotFound, DomainVerificationFailed, DomainTaken (verified by another org meanwhile),
        DnsUnavailable."""
        ...

    def confirm_domain(self, *, org_id: uuid.UUID, domain: str) -> OrgDomain:
        """An operator's word for it (admin, `manage.py org verify-domain`): add the domain if need
        be and mark it verified without DNS. Raises OrgNotFound, InvalidOrgInput, DomainTaken."""
        ...

    def delete_domain(self, *, actor_id: uuid.UUID | None, org_id: uuid.UUID, domain_id: uuid.UUID) -> None:
        """Remove a domain (`orgs.domain.manage`); members who joined by it stay. Emits
        `orgs.domain_removed`. Raises OrgNotFound, OrgPermissionDenied, DomainNotFound."""
        ...

    def list_joinable_orgs(self, *, user_id: uuid.UUID) -> list[Organization]:
        """The orgs the user may join by domain: `domain_join` `allow` or `auto`, a verified domain
        that is their verified email's, and not one of theirs. Empty for an unverified email."""
        ...

    def join_org(self, *, user_id: uuid.UUID, org_id: uuid.UUID) -> Membership:
        """Join as `member` by domain. Raises OrgNotFound (unless the org is in
        list_joinable_orgs: nothing of it leaks), AlreadyMember."""
        ...

    def join_orgs_by_domain(self, *, user_id: uuid.UUID) -> list[Membership]:
        """Make the user a member of every `auto` org with a verified domain that is their
        verified email's (called when an email becomes verified); the memberships made."""
        ...


org_service: OrgService = delegate(SERVICE_NAME, OrgService)

__all__ = [
    "ADMIN",
    "DEFAULT_PAGE_SIZE",
    "DOMAIN_ADDED",
    "DOMAIN_CHALLENGE_LABEL",
    "DOMAIN_JOIN_ALLOW",
    "DOMAIN_JOIN_AUTO",
    "DOMAIN_JOIN_MODES",
    "DOMAIN_JOIN_OFF",
    "DOMAIN_MANAGE",
    "DOMAIN_REMOVED",
    "DOMAIN_VERIFIED",
    "INVITATION_ACCEPTED",
    "INVITATION_MANAGE",
    "INVITATION_REVOKED",
    "INVITATION_SENT",
    "MAX_PAGE_SIZE",
    "MEMBER",
    "MEMBER_ADDED",
    "MEMBER_MANAGE",
    "MEMBER_REMOVED",
    "MEMBER_ROLE_CHANGED",
    "MEMBER_VIEW",
    "NOTIFICATION_SEND",
    "ORG_CREATED",
    "ORG_DELETE",
    "ORG_DELETED",
    "ORG_MANAGE",
    "ORG_ROLES",
    "ORG_UPDATED",
    "ORG_VIEW",
    "OWNER",
    "OWNER_MANAGE",
    "SERVICE_NAME",
    "TOTP_CONFIRM_PATH",
    "TOTP_ENROLL_PATH",
    "AlreadyMember",
    "DnsUnavailable",
    "DomainNotFound",
    "DomainTaken",
    "DomainVerificationFailed",
    "EmailNotVerified",
    "InvalidOrgInput",
    "Invitation",
    "InvitationNotFound",
    "InvitationPage",
    "InvitationsThrottled",
    "LastOwner",
    "Member",
    "MemberGrant",
    "MemberNotFound",
    "MemberPage",
    "Membership",
    "MembershipPage",
    "OrgDomain",
    "OrgMfaRequired",
    "OrgNotFound",
    "OrgPermissionDenied",
    "OrgService",
    "Organization",
    "SlugTaken",
    "org_scope",
    "org_service",
]
