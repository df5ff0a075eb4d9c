"""Organizations (docs/orgs.md): writes and reads of the users core service.

An org's row and its invitations are here; its members are RBAC assignments of the org roles in
scope `org:<id>`, held by the permissions service (one source of truth, no dual write). A write
that spans both services makes no remote call inside a transaction (RemoteCallInTransaction) and
orders its steps so that a crash between them leaves a safe, repairable state:

- create_org: the org row (and `orgs.org_created`) first, then the owner's grant. A crash between
  leaves an org nobody can see (visibility is the RBAC check); a failed grant deletes it again.
- delete_org: the org row first (it is 404 for everyone at once), then the revoke of its scope.
  A crash between leaves assignments in the scope of an org that no longer exists: they grant
  nothing anywhere an org route looks, and `manage.py org purge-scope` removes them.
- accept_invitation: checked, then the grant, then the invitation spent (a conditional update).
  A crash between leaves a member whose invitation is still pending: accepting again is a no-op
  grant that spends it.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from auth.interface import ONE_TIME_TOKEN_SEAL
from permissions.interface import (
    ORG_ADMIN_ROLE,
    ORG_MEMBER_ROLE,
    ORG_OWNER_ROLE,
    Assignment,
    AssignmentNotFound,
    EscalationDenied,
    LastRoleHolder,
    RoleNotFound,
    permission_service,
)
from project.crypto import seal_for
from project.events.outbox import outbox_record
from project.kernel.errors import InvalidArgument
from project.pagination import keyset_page
from users.interface import SERVICE_NAME, UserNotFound, user_service
from users.interface.orgs import (
    ADMIN,
    DOMAIN_JOIN_AUTO,
    DOMAIN_JOIN_MODES,
    INVITATION_ACCEPTED,
    INVITATION_MANAGE,
    INVITATION_REVOKED,
    INVITATION_SENT,
    MAX_PAGE_SIZE,
    MEMBER,
    MEMBER_ADDED,
    MEMBER_MANAGE,
    MEMBER_REMOVED,
    MEMBER_ROLE_CHANGED,
    MEMBER_VIEW,
    NAME_MAX,
    NOTIFICATION_SEND,
    ORG_CREATED,
    ORG_DELETE,
    ORG_DELETED,
    ORG_MANAGE,
    ORG_ROLES,
    ORG_UPDATED,
    ORG_VIEW,
    OWNER,
    OWNER_MANAGE,
    SLUG_MAX,
    AlreadyMember,
    EmailNotVerified,
    InvalidOrgInput,
    InvitationNotFound,
    InvitationsThrottled,
    LastOwner,
    MemberNotFound,
    OrgNotFound,
    OrgPermissionDenied,
    SlugTaken,
    org_scope,
)
from users.models import Invitation, Organization

RBAC_ROLE = {OWNER: ORG_OWNER_ROLE, ADMIN: ORG_ADMIN_ROLE, MEMBER: ORG_MEMBER_ROLE}
SLUG = re.compile(rf"[a-z0-9](?:[a-z0-9-]{{0,{SLUG_MAX - 2}}}[a-z0-9])?")
ORG_SCOPE = re.compile(r"org:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
THROTTLE_WINDOW_SECONDS = 3600


# --- Building blocks -------------------------------------------------------------------------------


@functools.cache
def _role_ids() -> dict[str, uuid.UUID]:
    """The RBAC ids of the org roles, by API name (system roles: fixed, never deleted)."""
    return {role: permission_service.get_role_by_name(name=name).id for role, name in RBAC_ROLE.items()}


def _role_name(role_id: uuid.UUID) -> str | None:
    return next((role for role, rid in _role_ids().items() if rid == role_id), None)


def _org_role(role: str) -> str:
    if role not in ORG_ROLES:
        raise InvalidOrgInput("Unknown org role.", details={"role": [f"One of {', '.join(ORG_ROLES)}."]})
    return role


def _can(actor_id: uuid.UUID | None, permission: str, org_id: uuid.UUID) -> bool:
    return actor_id is None or permission_service.check(
        user_id=actor_id, permission=permission, scope=org_scope(org_id)
    )


def _visible(actor_id: uuid.UUID | None, org_id: uuid.UUID) -> Organization:
    """The org, if the actor may see it; OrgNotFound otherwise, exactly as for a missing one."""
    org = Organization.objects.filter(id=org_id).first()
    if org is None or not _can(actor_id, ORG_VIEW, org_id):
        raise OrgNotFound()
    return org


def _require(actor_id: uuid.UUID | None, permission: str, org_id: uuid.UUID) -> None:
    if not _can(actor_id, permission, org_id):
        raise OrgPermissionDenied(details={"missing_permissions": [permission]})


def _require_covers(actor_id: uuid.UUID | None, user_id: uuid.UUID, org_id: uuid.UUID) -> None:
    """The actor may change a member only if they hold, in the org's scope, every permission the
    member holds there (gateway.permissions.user_escalation_check's rule, in the org's scope): an
    admin cannot remove an owner, nor a global administrator who is also a member."""
    if actor_id is None or actor_id == user_id:
        return
    scope = org_scope(org_id)
    missing = permission_service.effective_permissions(
        user_id=user_id, scope=scope
    ) - permission_service.effective_permissions(user_id=actor_id, scope=scope)
    if missing:
        raise EscalationDenied(
            "This member holds permissions in the organization that you do not.",
            details={"missing_permissions": sorted(missing), "scope": scope},
        )


def _membership(org_id: uuid.UUID, user_id: uuid.UUID) -> Assignment | None:
    """The user's org-role assignment in the org (the strongest, should there be several)."""
    ids = _role_ids()
    page = permission_service.list_assignments(
        user_id=user_id, scope=org_scope(org_id), role_ids=list(ids.values()), limit=10
    )
    rank = {ids[role]: i for i, role in enumerate(ORG_ROLES)}
    found = sorted(page.results, key=lambda a: rank[a.role_id])
    return found[0] if found else None


def _member(org_id: uuid.UUID, user_id: uuid.UUID) -> Assignment:
    assignment = _membership(org_id, user_id)
    if assignment is None:
        raise MemberNotFound()
    return assignment


def _page_input(call):
    """A paging error of the permissions service, as this service's own."""
    try:
        return call()
    except InvalidArgument as exc:
        raise InvalidOrgInput(exc.message, details=exc.details) from None


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidOrgInput("The name is required.", details={"name": ["This field is required."]})
    if len(name) > NAME_MAX:
        raise InvalidOrgInput("The name is too long.", details={"name": [f"At most {NAME_MAX} characters."]})
    if any(ord(ch) < 32 for ch in name):
        raise InvalidOrgInput("The name contains control characters.", details={"name": ["No control characters."]})
    return name


def _slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG.fullmatch(slug):
        raise InvalidOrgInput(
            "The slug is not valid.",
            details={"slug": [f"1 to {SLUG_MAX} lower-case letters, digits and inner hyphens."]},
        )
    return slug


def _email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidOrgInput(
            "Enter a valid email address.", details={"email": ["Enter a valid email address."]}
        ) from None
    if len(email) > 254:
        raise InvalidOrgInput("The email is too long.", details={"email": ["At most 254 characters."]})
    return email


def _emit(type: str, payload: dict) -> None:
    outbox_record(type=type, producer=SERVICE_NAME, payload=payload)


def _emit_now(type: str, payload: dict) -> None:
    with transaction.atomic(durable=True):
        _emit(type, payload)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_recipient(email: str) -> uuid.UUID:
    """Whom the invitation's token is sealed for: the account with this email, or, for an address
    with no account yet, an id made from the address (the mail goes to the address either way)."""
    try:
        return user_service.get_user_by_email(email=email).id
    except (UserNotFound, InvalidArgument):
        return uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email}")


# --- Organizations ---------------------------------------------------------------------------------


def create_org(*, actor_id: uuid.UUID, name: str, slug: str) -> Organization:
    name, slug = _name(name), _slug(slug)
    try:
        actor = user_service.get_user(user_id=actor_id)
    except UserNotFound:
        raise OrgPermissionDenied() from None
    if not actor.is_active:
        raise OrgPermissionDenied()
    if not actor.is_verified:
        raise EmailNotVerified("Verify your email address before you create an organization.")
    with transaction.atomic(durable=True):
        if Organization.objects.filter(slug=slug).exists():
            raise SlugTaken()
        try:
            with transaction.atomic():
                org = Organization.objects.create(name=name, slug=slug, created_by=actor_id)
        except IntegrityError:
            raise SlugTaken() from None
        _emit(ORG_CREATED, {"org_id": str(org.id), "name": org.name, "slug": org.slug, "owner_id": str(actor_id)})
    try:
        # The system grants it: the creator holds nothing in a scope that did not exist.
        permission_service.replace_role(
            actor_id=None, user_id=actor_id, scope=org_scope(org.id), role_id=_role_ids()[OWNER], replaces=[]
        )
    except Exception:
        Organization.objects.filter(id=org.id).delete()  # nobody could see it: take it back
        raise
    _emit_now(MEMBER_ADDED, {"org_id": str(org.id), "user_id": str(actor_id), "role": OWNER, "actor_id": None})
    return org


def get_org(*, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> Organization:
    return _visible(actor_id, org_id)


def update_org(
    *,
    actor_id: uuid.UUID | None,
    org_id: uuid.UUID,
    name: str | None = None,
    require_mfa: bool | None = None,
    domain_join: str | None = None,
) -> tuple[Organization, bool]:
    """The org and whether `domain_join` was just turned to `auto` (the caller then joins the
    verified users at its domains, outside this transaction)."""
    _visible(actor_id, org_id)
    if domain_join is not None and domain_join not in DOMAIN_JOIN_MODES:
        raise InvalidOrgInput(
            "Unknown domain_join.", details={"domain_join": [f"One of {', '.join(DOMAIN_JOIN_MODES)}."]}
        )
    _require(actor_id, ORG_MANAGE, org_id)
    changes = {}
    with transaction.atomic(durable=True):
        org = Organization.objects.select_for_update().filter(id=org_id).first()
        if org is None:
            raise OrgNotFound()
        if name is not None and _name(name) != org.name:
            changes["name"] = _name(name)
        if require_mfa is not None and require_mfa != org.require_mfa:
            changes["require_mfa"] = require_mfa
        if domain_join is not None and domain_join != org.domain_join:
            changes["domain_join"] = domain_join
        if changes:
            for field, value in changes.items():
                setattr(org, field, value)
            org.save(update_fields=[*changes, "updated_at"])
            _emit(ORG_UPDATED, {"org_id": str(org.id), "changed": sorted(changes), "actor_id": _str(actor_id)})
    return org, changes.get("domain_join") == DOMAIN_JOIN_AUTO


def delete_org(*, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> None:
    org = _visible(actor_id, org_id)
    _require(actor_id, ORG_DELETE, org_id)
    with transaction.atomic(durable=True):
        deleted, _ = Organization.objects.filter(id=org_id).delete()
        if deleted:
            _emit(ORG_DELETED, {"org_id": str(org_id), "slug": org.slug, "actor_id": _str(actor_id)})
    permission_service.revoke_assignments(actor_id=None, scope=org_scope(org_id))


def purge_scope(*, org_id: uuid.UUID) -> int:
    """Revoke what is left in the scope of an org that no longer exists (after a crash in
    delete_org); refuses an org that exists."""
    if Organization.objects.filter(id=org_id).exists():
        raise InvalidOrgInput("The organization exists.", details={"org_id": ["Delete it instead."]})
    return permission_service.revoke_assignments(actor_id=None, scope=org_scope(org_id))


def _str(value) -> str | None:
    return None if value is None else str(value)


def list_orgs(*, user_id: uuid.UUID, limit: int, cursor: str | None):
    """(memberships as (org, role, joined_at), next cursor): a keyset page of the user's org-role
    assignments (on the user index), joined with the org rows in one query."""
    ids = _role_ids()
    page = _page_input(
        lambda: permission_service.list_assignments(
            user_id=user_id, role_ids=list(ids.values()), limit=limit, cursor=cursor
        )
    )
    org_ids = []
    for assignment in page.results:
        match = ORG_SCOPE.fullmatch(assignment.scope or "")
        if match:
            org_ids.append(uuid.UUID(match.group(1)))
    orgs = Organization.objects.in_bulk(org_ids)
    seen, results = set(), []
    for assignment in page.results:
        match = ORG_SCOPE.fullmatch(assignment.scope or "")
        org = orgs.get(uuid.UUID(match.group(1))) if match else None
        if org is None or org.id in seen:
            continue
        seen.add(org.id)
        results.append((org, _role_name(assignment.role_id), assignment.created_at))
    return results, page.next


# --- Members ---------------------------------------------------------------------------------------


def list_members(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, limit: int, cursor: str | None):
    """(members as (user, role, joined_at), next cursor): a keyset page of the org-role assignments
    in the org's scope, on the (scope, created_at, id) index, and their users in one call."""
    _visible(actor_id, org_id)
    _require(actor_id, MEMBER_VIEW, org_id)
    page = _page_input(
        lambda: permission_service.list_assignments(
            scope=org_scope(org_id), role_ids=list(_role_ids().values()), limit=limit, cursor=cursor
        )
    )
    users = {u.id: u for u in user_service.get_users(user_ids=[a.user_id for a in page.results if a.user_id])}
    results = [(users[a.user_id], _role_name(a.role_id), a.created_at) for a in page.results if a.user_id in users]
    return results, page.next


def _member_result(org_id: uuid.UUID, user_id: uuid.UUID):
    assignment = _member(org_id, user_id)
    return user_service.get_user(user_id=user_id), _role_name(assignment.role_id), assignment.created_at


def add_member(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role: str):
    _visible(actor_id, org_id)
    role = _org_role(role)
    _require(actor_id, MEMBER_MANAGE, org_id)
    if role == OWNER:
        _require(actor_id, OWNER_MANAGE, org_id)
    if _membership(org_id, user_id) is not None:
        raise AlreadyMember()
    ids = _role_ids()
    permission_service.replace_role(
        actor_id=actor_id, user_id=user_id, scope=org_scope(org_id), role_id=ids[role], replaces=list(ids.values())
    )
    _emit_now(MEMBER_ADDED, {"org_id": str(org_id), "user_id": str(user_id), "role": role, "actor_id": _str(actor_id)})
    return _member_result(org_id, user_id)


def update_member(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role: str):
    _visible(actor_id, org_id)
    role = _org_role(role)
    _require(actor_id, MEMBER_MANAGE, org_id)
    current = _role_name(_member(org_id, user_id).role_id)
    if current == role:
        return _member_result(org_id, user_id)
    if OWNER in (current, role):  # only owners touch owners
        _require(actor_id, OWNER_MANAGE, org_id)
    _require_covers(actor_id, user_id, org_id)
    ids = _role_ids()
    try:
        permission_service.replace_role(
            actor_id=actor_id,
            user_id=user_id,
            scope=org_scope(org_id),
            role_id=ids[role],
            replaces=list(ids.values()),
            protect_role_id=ids[OWNER],
        )
    except LastRoleHolder:
        raise LastOwner() from None
    _emit_now(
        MEMBER_ROLE_CHANGED,
        {"org_id": str(org_id), "user_id": str(user_id), "role": role, "before": current, "actor_id": _str(actor_id)},
    )
    return _member_result(org_id, user_id)


def remove_member(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    _visible(actor_id, org_id)
    if actor_id != user_id:  # leaving needs no permission
        _require(actor_id, MEMBER_MANAGE, org_id)
    current = _role_name(_member(org_id, user_id).role_id)
    if current == OWNER and actor_id != user_id:
        _require(actor_id, OWNER_MANAGE, org_id)
    _require_covers(actor_id, user_id, org_id)
    try:
        revoked = permission_service.revoke_assignments(
            actor_id=actor_id, scope=org_scope(org_id), user_id=user_id, protect_role_id=_role_ids()[OWNER]
        )
    except LastRoleHolder:
        raise LastOwner() from None
    _emit_now(
        MEMBER_REMOVED,
        {
            "org_id": str(org_id),
            "user_id": str(user_id),
            "role": current,
            "revoked": revoked,
            "actor_id": _str(actor_id),
        },
    )


def grant_member_role(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, role_id: uuid.UUID):
    _visible(actor_id, org_id)
    _require(actor_id, MEMBER_MANAGE, org_id)
    _member(org_id, user_id)
    if role_id in _role_ids().values():
        raise InvalidOrgInput(
            "Org roles are changed with the member's `role`.", details={"role_id": ["Not an org role."]}
        )
    # §3: the permissions service refuses a role whose permissions the actor lacks in this scope.
    return permission_service.grant_role(actor_id=actor_id, role_id=role_id, user_id=user_id, scope=org_scope(org_id))


def list_member_roles(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID) -> list[Assignment]:
    _visible(actor_id, org_id)
    _require(actor_id, MEMBER_VIEW, org_id)
    _member(org_id, user_id)
    org_roles = set(_role_ids().values())
    page = permission_service.list_assignments(user_id=user_id, scope=org_scope(org_id), limit=MAX_PAGE_SIZE)
    return [a for a in page.results if a.role_id not in org_roles]


def revoke_member_role(
    *, actor_id: uuid.UUID | None, org_id: uuid.UUID, user_id: uuid.UUID, grant_id: uuid.UUID
) -> None:
    _visible(actor_id, org_id)
    _require(actor_id, MEMBER_MANAGE, org_id)
    _member(org_id, user_id)
    try:
        grant = permission_service.get_assignment(assignment_id=grant_id)
    except AssignmentNotFound:
        grant = None
    if (
        grant is None
        or grant.user_id != user_id
        or grant.scope != org_scope(org_id)
        or grant.role_id in _role_ids().values()
    ):
        raise AssignmentNotFound()
    _require_covers(actor_id, user_id, org_id)
    permission_service.revoke_assignment(actor_id=actor_id, assignment_id=grant_id)


def get_membership(*, user_id: uuid.UUID, org_id: uuid.UUID):
    """(org, role, joined_at) of a member; OrgNotFound, MemberNotFound."""
    org = Organization.objects.filter(id=org_id).first()
    if org is None:
        raise OrgNotFound()
    assignment = _member(org_id, user_id)
    return org, _role_name(assignment.role_id), assignment.created_at


# --- Notifications to members ----------------------------------------------------------------------


def authorize_notification(*, actor_id: uuid.UUID | None, org_id: uuid.UUID) -> Organization:
    org = _visible(actor_id, org_id)
    _require(actor_id, NOTIFICATION_SEND, org_id)
    return org


def _scope_holders(scope: str, role_ids: list[uuid.UUID], *, groups: bool) -> dict[uuid.UUID, set[uuid.UUID]]:
    """user id -> the roles among `role_ids` they hold in exactly `scope` (unexpired; with
    `groups`, a group's assignment counts for each of its members), from keyset pages of the
    scope's assignments."""
    now = timezone.now()
    held: dict[uuid.UUID, set[uuid.UUID]] = {}
    cursor = None
    while True:
        page = permission_service.list_assignments(scope=scope, role_ids=role_ids, limit=MAX_PAGE_SIZE, cursor=cursor)
        for a in page.results:
            if a.expires_at is not None and a.expires_at <= now:
                continue
            if a.user_id is None and not groups:
                continue
            users = [a.user_id] if a.user_id else permission_service.group_members(group_id=a.group_id)
            for user_id in users:
                held.setdefault(user_id, set()).add(a.role_id)
        if not page.next:
            return held
        cursor = page.next


def member_ids(*, org_id: uuid.UUID, role: str | None = None) -> list[uuid.UUID]:
    if not Organization.objects.filter(id=org_id).exists():
        raise OrgNotFound()
    scope, ids = org_scope(org_id), _role_ids()
    # Members as list_members counts them: users holding an org role themselves.
    members = _scope_holders(scope, list(ids.values()), groups=False)
    if role is None:
        return list(members)
    if role in ORG_ROLES:
        return [user_id for user_id, roles in members.items() if ids[role] in roles]
    try:
        custom = permission_service.get_role_by_name(name=role)
    except RoleNotFound:
        custom = None
    if custom is None or custom.id in ids.values():
        raise InvalidOrgInput(
            "There is no such role.", details={"role": [f"One of {', '.join(ORG_ROLES)}, or a custom role's name."]}
        )
    holders = _scope_holders(scope, [custom.id], groups=True)
    return [user_id for user_id in members if user_id in holders]


# --- Invitations -----------------------------------------------------------------------------------


def _throttle(org_id: uuid.UUID) -> None:
    limit = settings.GATEHOUSE_ORG_INVITATIONS_PER_HOUR
    key = f"orgs:invitations:{org_id}"
    cache.add(key, 0, THROTTLE_WINDOW_SECONDS)
    try:
        sent = cache.incr(key)
    except ValueError:  # expired in between
        cache.set(key, 1, THROTTLE_WINDOW_SECONDS)
        sent = 1
    if sent > limit:
        raise InvitationsThrottled(details={"retry_after": THROTTLE_WINDOW_SECONDS})


def _may_invite(actor_id: uuid.UUID | None, org_id: uuid.UUID, role: str) -> None:
    _require(actor_id, INVITATION_MANAGE, org_id)
    if role == OWNER:
        _require(actor_id, OWNER_MANAGE, org_id)


def _sent_payload(invitation: Invitation, org: Organization, token: str, recipient: uuid.UUID) -> dict:
    return {
        "invitation_id": str(invitation.id),
        "org_id": str(org.id),
        "org_name": org.name,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": _str(invitation.invited_by),
        "expires_at": invitation.expires_at.isoformat(),
        # Whom the notifications service mails it to, and the token sealed for them alone.
        "recipient_id": str(recipient),
        "sealed_token": seal_for(token, purpose=ONE_TIME_TOKEN_SEAL, subject=str(recipient)),
    }


def create_invitation(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, email: str, role: str):
    org = _visible(actor_id, org_id)
    role, email = _org_role(role), _email(email)
    _may_invite(actor_id, org_id, role)
    _throttle(org_id)
    recipient = invitation_recipient(email)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic(durable=True):
        invitation = Invitation.objects.create(
            org=org,
            email=email,
            role=role,
            token_hash=_token_hash(token),
            invited_by=actor_id,
            created_at=now,
            last_sent_at=now,
            expires_at=now + timedelta(seconds=settings.GATEHOUSE_ORG_INVITATION_TTL),
        )
        _emit(INVITATION_SENT, _sent_payload(invitation, org, token, recipient))
    return invitation, token


def list_invitations(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, limit: int, cursor: str | None):
    _visible(actor_id, org_id)
    _require(actor_id, INVITATION_MANAGE, org_id)
    return keyset_page(
        Invitation.objects.filter(org_id=org_id), by="created_at", limit=limit, cursor=cursor, invalid=InvalidOrgInput
    )


def _pending(org_id: uuid.UUID, invitation_id: uuid.UUID) -> Invitation:
    invitation = Invitation.objects.select_for_update().filter(id=invitation_id, org_id=org_id).first()
    if invitation is None or invitation.status != "pending":
        raise InvitationNotFound()
    return invitation


def revoke_invitation(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
    _visible(actor_id, org_id)
    _require(actor_id, INVITATION_MANAGE, org_id)
    found = Invitation.objects.filter(id=invitation_id, org_id=org_id).first()
    if found is None or found.status != "pending":
        raise InvitationNotFound()
    _may_invite(actor_id, org_id, found.role)  # outside the transaction: it may be a remote call
    with transaction.atomic(durable=True):
        invitation = _pending(org_id, invitation_id)
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _emit(
            INVITATION_REVOKED,
            {"invitation_id": str(invitation.id), "org_id": str(org_id), "actor_id": _str(actor_id)},
        )


def resend_invitation(*, actor_id: uuid.UUID | None, org_id: uuid.UUID, invitation_id: uuid.UUID):
    org = _visible(actor_id, org_id)
    _require(actor_id, INVITATION_MANAGE, org_id)
    with transaction.atomic(durable=True):
        invitation = _pending(org_id, invitation_id)
    _may_invite(actor_id, org_id, invitation.role)
    _throttle(org_id)
    recipient = invitation_recipient(invitation.email)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic(durable=True):
        invitation = _pending(org_id, invitation_id)
        invitation.token_hash = _token_hash(token)  # the link mailed before stops working
        invitation.sent_count += 1
        invitation.last_sent_at = now
        invitation.expires_at = now + timedelta(seconds=settings.GATEHOUSE_ORG_INVITATION_TTL)
        invitation.save(update_fields=["token_hash", "sent_count", "last_sent_at", "expires_at"])
        _emit(INVITATION_SENT, {**_sent_payload(invitation, org, token, recipient), "resent": True})
    return invitation, token


def accept_invitation(*, user_id: uuid.UUID, token: str):
    invitation = Invitation.objects.select_related("org").filter(token_hash=_token_hash(token or "")).first()
    if invitation is None or invitation.status != "pending":
        raise InvitationNotFound()
    try:
        user = user_service.get_user(user_id=user_id)
    except UserNotFound:
        raise InvitationNotFound() from None
    if not user.is_active:
        raise InvitationNotFound()
    if user.email != invitation.email:
        # Whoever holds someone else's link learns nothing about it (not even that it exists).
        raise InvitationNotFound()
    if not user.is_verified:
        raise EmailNotVerified()
    org = invitation.org
    ids = _role_ids()
    current = _membership(org.id, user_id)
    if current is None:
        # The system grants it: an org admin (or owner, for `owner`) chose the role when inviting.
        permission_service.replace_role(
            actor_id=None, user_id=user_id, scope=org_scope(org.id), role_id=ids[invitation.role], replaces=[]
        )
    with transaction.atomic(durable=True):
        spent = Invitation.objects.filter(id=invitation.id, accepted_at__isnull=True, revoked_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user_id
        )
        if spent:
            _emit(
                INVITATION_ACCEPTED,
                {"invitation_id": str(invitation.id), "org_id": str(org.id), "user_id": str(user_id)},
            )
            if current is None:
                _emit(
                    MEMBER_ADDED,
                    {"org_id": str(org.id), "user_id": str(user_id), "role": invitation.role, "actor_id": None},
                )
    if not spent and current is None:
        # Revoked or accepted in the meantime: the grant made just now is taken back.
        permission_service.revoke_assignments(actor_id=None, scope=org_scope(org.id), user_id=user_id)
        raise InvitationNotFound()
    assignment = _member(org.id, user_id)
    return org, _role_name(assignment.role_id), assignment.created_at
