"""Where scim2-server reads and writes: Gatehouse's users and RBAC groups, through the users, auth
and permissions interfaces, plus this app's own rows for what identity providers say beyond them
(docs/scim.md). scim2-server owns the protocol: routing, filters' grammar, PATCH, ETag checks.

The interfaces are called with no transaction open: in the split shape they are gRPC calls.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

from scim2_models import (
    EnterpriseUser,
    ForbiddenException,
    Group,
    GroupMember,
    InvalidValueException,
    Meta,
    NotFoundException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ScimFilter,
    SearchRequest,
    UniquenessException,
    User,
)
from scim2_models.path import CompareOperator, Comparison
from scim2_server.storage import ScimStorage, SearchPage

from auth.interface import auth_service
from permissions.interface import (
    ORG_ADMIN_ROLE,
    ORG_MEMBER_ROLE,
    ORG_OWNER_ROLE,
    GroupNameTaken,
    GroupNotFound,
    InvalidRbacInput,
    permission_service,
)
from project.domains import domain_name
from project.kernel.errors import InvalidArgument
from users.interface import MAX_PAGE_SIZE, EmailTaken, UserNotFound, user_service
from users.interface import User as GatehouseUser
from users.interface.orgs import (
    ADMIN,
    MEMBER,
    OWNER,
    MemberNotFound,
    OrgNotFound,
    org_scope,
    org_service,
)

from .models import ScimGroup, ScimToken, ScimUser

ScimUserResource = User[EnterpriseUser]
# The token of the request being served (the view sets it): None or a global token, or one whose
# `org_id` limits it to an organization's members and roles.
_token: ContextVar[ScimToken | None] = ContextVar("scim_token", default=None)
# An organization's groups under its token: its three org roles (docs/scim.md).
ORG_GROUPS = {OWNER: ORG_OWNER_ROLE, ADMIN: ORG_ADMIN_ROLE, MEMBER: ORG_MEMBER_ROLE}


@contextmanager
def serving(token: ScimToken | None) -> Iterator[None]:
    """Serve one request for `token`: the storage reads and writes what that token reaches."""
    reset = _token.set(token)
    try:
        yield
    finally:
        _token.reset(reset)


def _org() -> uuid.UUID | None:
    token = _token.get()
    return token.org_id if token is not None else None


@cache
def _org_role_ids() -> dict[str, uuid.UUID]:
    """The RBAC ids of the org roles by API name (system roles: fixed, never deleted)."""
    return {role: permission_service.get_role_by_name(name=name).id for role, name in ORG_GROUPS.items()}


@cache
def _org_admin_permissions() -> frozenset[str]:
    """What an org admin holds: an org token is held to it (§3)."""
    held: set[str] = set()
    todo = [_org_role_ids()[ADMIN]]
    while todo:
        role = permission_service.get_role(role_id=todo.pop())
        held.update(role.permissions)
        todo.extend(role.parents)
    return frozenset(held)


USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User:"
# The attributes Gatehouse itself holds (or derives): never copied into ScimUser.attributes.
OWN_USER_FIELDS = {"schemas", "id", "meta", "user_name", "display_name", "active", "external_id"}


def _uuid(resource_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(resource_id)
    except ValueError:
        raise NotFoundException(detail=f"Resource {resource_id} not found") from None


def _version(body: dict[str, Any]) -> str:
    """A weak ETag of everything the resource says: it changes whenever the resource does."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:32]}"'


def _with_meta(resource: Resource[Any], resource_type: str, created, modified) -> Resource[Any]:
    resource.meta = None
    version = _version(resource.model_dump(mode="json"))
    resource.meta = Meta(resource_type=resource_type, created=created, last_modified=modified, version=version)
    return resource


def _check_version(current: Resource[Any], expected_version: str | None) -> None:
    if expected_version is not None and current.meta is not None and current.meta.version != expected_version:
        raise PreconditionFailedException()


def _user_resource(user: GatehouseUser, row: ScimUser | None) -> Resource[Any]:
    extra = dict(row.attributes) if row else {}
    body = {
        **extra,
        "schemas": extra.get("schemas") or [USER_URN.rstrip(":")],
        "id": str(user.id),
        "userName": user.email,
        "displayName": user.display_name or None,
        "externalId": (row.external_id or None) if row else None,
    }
    # An identity provider may leave `active` out (or remove it): then only a deactivated user says
    # so. A user no identity provider wrote is described whole.
    if row is None or "active" in extra or not user.is_active:
        body["active"] = user.is_active
    resource = ScimUserResource.model_validate({k: v for k, v in body.items() if v is not None})
    modified = max(user.date_joined, row.updated_at) if row else user.date_joined
    return _with_meta(resource, "User", user.date_joined, modified)


def _user_extra(resource: Resource[Any]) -> dict[str, Any]:
    """What ScimUser.attributes keeps of a resource: all Gatehouse does not hold, and whether the
    identity provider stated `active` (its value is the user's own)."""
    extra = resource.model_dump(mode="json", exclude=OWN_USER_FIELDS)
    if resource.active is not None:
        extra["active"] = resource.active
    return extra


# --- Addresses an organization token may write (docs/scim.md, "Organization tokens") -------------


def address_domain(address: str) -> str | None:
    """The domain of an email address as the org domain code stores domains
    (project.domains.domain_name), or None for anything that is not plainly one address: no `@`,
    an `@` in the local part, an empty side, a space, a trailing dot, a percent sign, a name domain_name
    refuses. Stricter than the users service on purpose: what this cannot read is refused."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or "@" in local or domain != domain.strip() or domain.endswith(".") or "%" in domain:
        return None
    try:
        return domain_name(domain)
    except ValueError:
        return None


def _checked_emails(resource: Resource[Any]) -> set[str]:
    """The primary and work addresses of a resource's `emails` (lower case)."""
    found = set()
    for email in getattr(resource, "emails", None) or []:
        kind = str(email.type or "").lower()
        if email.value and (email.primary is True or kind == "work"):
            found.add(str(email.value).strip().lower())
    return found


def _require_verified_domains(org_id: uuid.UUID, addresses: dict[str, str]) -> None:
    """Under an org token, every address written (`{where: address}`) is at one of the org's
    verified domains, exactly (no subdomain): else 400 invalidValue, before anything changes. A
    token must not squat an address of someone outside the organization."""
    if not addresses:
        return
    try:
        verified = {d.domain for d in org_service.list_domains(actor_id=None, org_id=org_id) if d.verified_at}
    except OrgNotFound:
        raise ForbiddenException(detail="This token's organization no longer exists.") from None
    for where, address in sorted(addresses.items()):
        if address_domain(address) not in verified:
            raise InvalidValueException(
                detail=f"{where}: {address!r} is not at a verified domain of this organization. The organization "
                "must verify the domain first (docs/orgs.md, 'Verified domains'); an organization token creates "
                "and renames accounts only at its organization's verified domains."
            )


def _single_string_comparison(scim_filter: ScimFilter[Any] | None, *, ops) -> tuple[str, str] | None:
    """(attribute urn, value) when the filter is one comparison of a string with one of `ops`."""
    if scim_filter is None or scim_filter.model is None:
        return None
    node = scim_filter.ast
    if not isinstance(node, Comparison) or node.op not in ops or not isinstance(node.value, str):
        return None
    binding = scim_filter.resolve_comparison(node.attr_path, strict=False)
    return (binding.urn, node.value) if binding is not None else None


def _page(found: list[Resource[Any]], search_request: SearchRequest[Any]) -> SearchPage:
    start = search_request.start_index_0 or 0
    stop = None if search_request.count is None else start + search_request.count
    return SearchPage(total=len(found), resources=found[start:stop])


class GatehouseStorage(ScimStorage):
    def get(self, resource_type: ResourceType, resource_id: str, *, response_parameters=None) -> Resource[Any]:
        if resource_type.name == "Group":
            return self._group(_uuid(resource_id))
        return self._user(_uuid(resource_id))

    def search(self, resource_types: list[ResourceType], search_request: SearchRequest[Any], *, position=None):
        if [rt.name for rt in resource_types] == ["Group"]:
            candidates = self._group_candidates()
        elif [rt.name for rt in resource_types] == ["User"]:
            candidates = self._user_candidates(search_request.filter)
        else:
            candidates = self._group_candidates() + self._user_candidates(search_request.filter)
        scim_filter = search_request.filter
        found = [r for r in candidates if scim_filter is None or scim_filter.match(r)]
        return _page(found, search_request)

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        if resource_type.name == "Group":
            if _org() is not None:
                raise ForbiddenException(detail="An organization's groups are its roles; they cannot be created here.")
            return self._group_create(resource)
        org_id = _org()
        if org_id is not None:
            try:
                org_service.get_org(actor_id=None, org_id=org_id)
            except OrgNotFound:
                raise ForbiddenException(detail="This token's organization no longer exists.") from None
            written = {f"emails ({email})": email for email in _checked_emails(resource)}
            _require_verified_domains(org_id, {**written, "userName": resource.user_name or ""})
        try:
            # An address that already has an account is refused (409), under an org token too: the
            # account exists independently of the org, and the token must not gain control of it
            # (docs/scim.md, "Organization tokens"). Nothing says where else it is a member.
            user = user_service.create_user(
                email=resource.user_name or "",
                display_name=resource.display_name or "",
                # Under an org token, active until it is a member (RBAC grants nothing to an inactive
                # user), then deactivated if asked.
                is_active=resource.active is not False or org_id is not None,
                # The identity provider owns the directory and vouches for its addresses.
                is_verified=True,
            )
        except EmailTaken:
            raise UniquenessException(detail="userName is already taken.") from None
        except InvalidArgument as exc:
            raise InvalidValueException(detail=_message(exc)) from None
        if org_id is not None:
            try:
                org_service.add_member(actor_id=None, org_id=org_id, user_id=user.id, role=MEMBER)
            except OrgNotFound:  # deleted a moment ago: the account, in no org, is not left active
                self._deactivate(user.id)
                raise ForbiddenException(detail="This token's organization no longer exists.") from None
            if resource.active is False:
                user = self._deactivate(user.id)
        row = ScimUser.objects.create(
            user_id=user.id, external_id=resource.external_id or "", attributes=_user_extra(resource), org_id=org_id
        )
        return _user_resource(user, row)

    def update(self, resource_type: ResourceType, resource: Resource[Any], *, expected_version=None):
        if resource_type.name == "Group":
            return self._group_update(resource, expected_version)
        user_id = _uuid(resource.id or "")
        current = self._user(user_id)
        _check_version(current, expected_version)
        user = user_service.get_user(user_id=user_id)
        org_id = _org()
        if org_id is not None and not self._org_owns(org_id, user_id):
            return self._org_update_independent(org_id, user, current, resource)
        if org_id is not None:  # the addresses it changes are at the org's verified domains
            written = {f"emails ({email})": email for email in _checked_emails(resource) - _checked_emails(current)}
            if resource.user_name and resource.user_name.lower() != user.email:
                written["userName"] = resource.user_name
            _require_verified_domains(org_id, written)
        try:
            if resource.user_name and resource.user_name.lower() != user.email:
                user_service.update_user(user_id=user_id, email=resource.user_name)
                # The directory vouches for the new address: no verification mail round trip.
                user = user_service.confirm_email_change(user_id=user_id, email=resource.user_name.lower())
            if (resource.display_name or "") != user.display_name:
                user = user_service.update_user(user_id=user_id, display_name=resource.display_name or "")
        except EmailTaken:
            raise UniquenessException(detail="userName is already taken.") from None
        except InvalidArgument as exc:
            raise InvalidValueException(detail=_message(exc)) from None
        if resource.active is False and org_id is not None:
            # Out of the org (its grants there revoked at once), and the account, the org's alone,
            # deactivated. The answer says so; the user is gone for this token from now on.
            user = self._org_remove(org_id, user_id, deactivate=True)
        elif resource.active is False and user.is_active:
            user = self._deactivate(user_id)
        elif resource.active is True and not user.is_active:
            user = user_service.reactivate_user(user_id=user_id)
        row, _ = ScimUser.objects.update_or_create(
            user_id=user_id, defaults={"external_id": resource.external_id or "", "attributes": _user_extra(resource)}
        )
        return _user_resource(user, row)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version=None) -> None:
        if resource_type.name == "Group":
            group_id = _uuid(resource_id)
            _check_version(self._group(group_id), expected_version)
            if _org() is not None:
                raise ForbiddenException(detail="An organization's groups are its roles; they cannot be deleted.")
            permission_service.delete_group(actor_id=None, group_id=group_id)
            ScimGroup.objects.filter(group_id=group_id).delete()
            return
        user_id = _uuid(resource_id)
        _check_version(self._user(user_id), expected_version)
        org_id = _org()
        if org_id is not None:
            self._org_remove(org_id, user_id, deactivate=self._org_owns(org_id, user_id))
            return
        self._deactivate(user_id)
        ScimUser.objects.update_or_create(user_id=user_id, defaults={"deleted": True})

    # --- Users ---------------------------------------------------------------------------------

    def _user(self, user_id: uuid.UUID) -> Resource[Any]:
        row = ScimUser.objects.filter(user_id=user_id).first()
        if row is not None and row.deleted:
            raise NotFoundException(detail=f"Resource {user_id} not found")
        org_id = _org()
        if org_id is not None and self._org_role(org_id, user_id) is None:
            raise NotFoundException(detail=f"Resource {user_id} not found")  # as for no user at all
        try:
            user = user_service.get_user(user_id=user_id)
        except UserNotFound:
            raise NotFoundException(detail=f"Resource {user_id} not found") from None
        return _user_resource(user, row)

    @staticmethod
    def _deactivate(user_id: uuid.UUID) -> GatehouseUser:
        """What DELETE /api/v1/users/{id} does: the account is inactive (users.user_deactivated goes
        out), and its sessions stop working now, not when that event's handler runs."""
        user = user_service.deactivate_user(user_id=user_id)
        auth_service.revoke_all_sessions(user_id=user_id)
        return user

    def _user_candidates(self, scim_filter: ScimFilter[Any] | None) -> list[Resource[Any]]:
        """The users the filter may match (it is applied to them afterwards). `userName eq` and
        `externalId eq`, what identity providers send before creating a user, are one lookup;
        other filters on a string narrow the scan by the users service's substring search."""
        eq = _single_string_comparison(scim_filter, ops={CompareOperator.eq})
        org_id = _org()
        if org_id is not None and not (eq is not None and eq[0] in (USER_URN + "userName", USER_URN + "externalId")):
            users = [user for user, _ in self._org_members(org_id)]
        elif eq is not None and eq[0] == USER_URN + "userName":
            try:
                users = [user_service.get_user_by_email(email=eq[1])]
            except UserNotFound:
                users = []
        elif eq is not None and eq[0] == USER_URN + "externalId":
            ids = ScimUser.objects.filter(external_id=eq[1]).values_list("user_id", flat=True)
            users = user_service.get_users(user_ids=list(ids))
        else:
            narrowing = _single_string_comparison(
                scim_filter, ops={CompareOperator.eq, CompareOperator.co, CompareOperator.sw}
            )
            searchable = {USER_URN + "userName", USER_URN + "displayName", USER_URN + "emails.value"}
            search = narrowing[1] if narrowing and narrowing[0] in searchable and narrowing[1] else None
            users = self._all_users(search)
        if org_id is not None and eq is not None:  # the one lookups, narrowed to the org's members
            users = [user for user in users if self._org_role(org_id, user.id) is not None]
        rows = ScimUser.objects.in_bulk([user.id for user in users])
        return [
            _user_resource(user, rows.get(user.id)) for user in users if not (user.id in rows and rows[user.id].deleted)
        ]

    @staticmethod
    def _all_users(search: str | None) -> list[GatehouseUser]:
        users: list[GatehouseUser] = []
        cursor = None
        while True:
            page = user_service.list_users(search=search, limit=MAX_PAGE_SIZE, cursor=cursor)
            users.extend(page.results)
            if page.next is None:
                return users[::-1]  # oldest first: a new user does not shift the pages already read
            cursor = page.next

    # --- Under an organization's token (docs/scim.md, "Organization tokens") --------------------

    @staticmethod
    def _org_role(org_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        """The user's org role in the org (the strongest, should there be several), or None."""
        ids = _org_role_ids()
        page = permission_service.list_assignments(
            user_id=user_id, scope=org_scope(org_id), role_ids=list(ids.values()), limit=10
        )
        held = {a.role_id for a in page.results}
        return next((role for role in (OWNER, ADMIN, MEMBER) if ids[role] in held), None)

    @staticmethod
    def _org_members(org_id: uuid.UUID) -> list[tuple[GatehouseUser, str]]:
        """Every member with their org role, oldest first (none for an org that is gone)."""
        members: list[tuple[GatehouseUser, str]] = []
        cursor = None
        try:
            while True:
                page = org_service.list_members(actor_id=None, org_id=org_id, limit=MAX_PAGE_SIZE, cursor=cursor)
                users = {u.id: u for u in user_service.get_users(user_ids=[m.user_id for m in page.results])}
                members.extend((users[m.user_id], m.role) for m in page.results if m.user_id in users)
                if page.next is None:
                    return members[::-1]
                cursor = page.next
        except OrgNotFound:
            return []

    def _org_covers(self, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """§3 for the token, which holds an org admin's power: it changes no owner, and no member
        holding in the org's scope anything an org admin does not (a global administrator)."""
        if self._org_role(org_id, user_id) == OWNER:
            return False
        held = permission_service.effective_permissions(user_id=user_id, scope=org_scope(org_id))
        return held <= _org_admin_permissions()

    def _org_owns(self, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Whether the account is the org's alone: made by this org's token, holding no grant
        outside the org's scope (no global role, no other org, no RBAC group) and nothing in it the
        token does not cover. Only such an account may an org token change or deactivate."""
        row = ScimUser.objects.filter(user_id=user_id).first()
        if row is None or row.org_id != org_id:
            return False
        scope = org_scope(org_id)
        cursor = None
        while True:
            page = permission_service.list_assignments(user_id=user_id, limit=MAX_PAGE_SIZE, cursor=cursor)
            if any(a.scope is None or (a.scope != scope and not a.scope.startswith(scope + "/")) for a in page.results):
                return False
            if page.next is None:
                break
            cursor = page.next
        if permission_service.user_groups(user_id=user_id):
            return False
        return self._org_covers(org_id, user_id)

    def _org_remove(self, org_id: uuid.UUID, user_id: uuid.UUID, *, deactivate: bool) -> GatehouseUser:
        """Take the user out of the org: every grant of theirs in its scope is revoked (§3: no
        check answers with them once this returns); then, for an account that is the org's alone,
        deactivate it and end its sessions."""
        if not self._org_covers(org_id, user_id):
            raise ForbiddenException(
                detail="This user is an owner of the organization, or holds more in it than an organization "
                "admin: remove them in Gatehouse."
            )
        try:
            org_service.remove_member(actor_id=None, org_id=org_id, user_id=user_id)
        except (MemberNotFound, OrgNotFound):
            raise NotFoundException(detail=f"Resource {user_id} not found") from None
        return self._deactivate(user_id) if deactivate else user_service.get_user(user_id=user_id)

    def _org_update_independent(
        self, org_id: uuid.UUID, user: GatehouseUser, current: Resource[Any], resource: Resource[Any]
    ) -> Resource[Any]:
        """PUT or PATCH, under an org token, of an account that exists beyond the org (a member of
        another org, a holder of other grants, an account the org's token did not make): the token
        may take it out of the org (`active: false`) and change nothing else."""
        before = current.model_dump(mode="json", exclude={"meta", "active"}, exclude_none=True)
        after = resource.model_dump(mode="json", exclude={"meta", "active"}, exclude_none=True)
        if before != after or (resource.active is True and not user.is_active):
            raise ForbiddenException(
                detail="This account exists beyond this organization (another organization, other grants, or "
                "not created by this organization's token): an organization token may only remove it from the "
                "organization (active: false or DELETE), not change it."
            )
        if resource.active is False:
            self._org_remove(org_id, user.id, deactivate=False)
            current.active = False
        return current

    # --- Groups --------------------------------------------------------------------------------

    def _group(self, group_id: uuid.UUID) -> Resource[Any]:
        org_id = _org()
        if org_id is not None:
            role = next((r for r, rid in _org_role_ids().items() if rid == group_id), None)
            if role is None:
                raise NotFoundException(detail=f"Resource {group_id} not found")
            return self._org_group(role, self._org_members(org_id))
        try:
            group = permission_service.get_group(group_id=group_id)
        except GroupNotFound:
            raise NotFoundException(detail=f"Resource {group_id} not found") from None
        return self._group_resource(group, ScimGroup.objects.filter(group_id=group_id).first())

    def _group_resource(self, group, row: ScimGroup | None) -> Resource[Any]:
        member_ids = permission_service.group_members(group_id=group.id)
        displays = row.member_displays if row else {}
        members = [
            GroupMember(value=str(user.id), display=displays.get(str(user.id)), ref=f"Users/{user.id}", type="User")
            for user in user_service.get_users(user_ids=member_ids)
        ]
        resource = Group(
            id=str(group.id),
            display_name=group.name,
            external_id=(row.external_id or None) if row else None,
            members=members or None,
        )
        modified = row.updated_at if row else None
        return _with_meta(resource, "Group", modified, modified)

    @staticmethod
    def _org_group(role: str, members: list[tuple[GatehouseUser, str]]) -> Resource[Any]:
        """An org role as a group: the members whose org role it is."""
        resource = Group(
            id=str(_org_role_ids()[role]),
            display_name=role,
            members=[
                GroupMember(value=str(user.id), ref=f"Users/{user.id}", type="User")
                for user, held in members
                if held == role
            ]
            or None,
        )
        return _with_meta(resource, "Group", None, None)

    def _group_candidates(self) -> list[Resource[Any]]:
        org_id = _org()
        if org_id is not None:
            members = self._org_members(org_id)
            return [self._org_group(role, members) for role in (OWNER, ADMIN, MEMBER)]
        rows = {row.group_id: row for row in ScimGroup.objects.all()}
        return [self._group_resource(group, rows.get(group.id)) for group in permission_service.list_groups()]

    def _group_create(self, resource: Resource[Any]) -> Resource[Any]:
        members = self._members(resource)  # before the group exists: a bad member changes nothing
        try:
            group = permission_service.create_group(actor_id=None, name=resource.display_name or "")
        except GroupNameTaken:
            raise UniquenessException(detail="displayName is already taken.") from None
        except InvalidRbacInput as exc:
            raise InvalidValueException(detail=_message(exc)) from None
        ScimGroup.objects.create(
            group_id=group.id, external_id=resource.external_id or "", member_displays=_member_displays(resource)
        )
        self._set_members(group.id, members, current=set())
        return self._group(group.id)

    def _group_update(self, resource: Resource[Any], expected_version: str | None) -> Resource[Any]:
        group_id = _uuid(resource.id or "")
        current = self._group(group_id)
        _check_version(current, expected_version)
        org_id = _org()
        if org_id is not None:
            return self._org_group_update(org_id, current, resource)
        members = self._members(resource)  # before any change: a bad member changes nothing
        if resource.display_name != current.display_name:
            try:
                permission_service.rename_group(actor_id=None, group_id=group_id, name=resource.display_name or "")
            except GroupNameTaken:
                raise UniquenessException(detail="displayName is already taken.") from None
            except InvalidRbacInput as exc:
                raise InvalidValueException(detail=_message(exc)) from None
        ScimGroup.objects.update_or_create(
            group_id=group_id,
            defaults={"external_id": resource.external_id or "", "member_displays": _member_displays(resource)},
        )
        self._set_members(group_id, members, current={uuid.UUID(m.value) for m in current.members or []})
        return self._group(group_id)

    def _org_group_update(self, org_id: uuid.UUID, current: Resource[Any], resource: Resource[Any]) -> Resource[Any]:
        """Members put in or taken out of an org role's group, under the org's token. The token
        holds an org admin's power (§3): it makes and unmakes admins, never owners; adding someone
        to `member` makes an admin a member again; taking someone out of `member` removes them from
        the org (their account stays as it is). Only the org's members can be put in its groups."""
        role = current.display_name or ""
        if resource.display_name != role:
            raise ForbiddenException(detail="An organization's groups are its roles; they cannot be renamed.")
        wanted = self._member_ids(resource)
        present = {uuid.UUID(m.value) for m in current.members or [] if m.value}
        added, removed = wanted - present, present - wanted
        if role == OWNER and (added or removed):
            raise ForbiddenException(detail="Owners are made and unmade in Gatehouse, not by a SCIM token.")
        roles = {user_id: self._org_role(org_id, user_id) for user_id in added | removed}
        if unknown := sorted(str(user_id) for user_id in added if roles[user_id] is None):
            raise InvalidValueException(detail=f"members: no member {', '.join(unknown)}.")
        if any(not self._org_covers(org_id, user_id) for user_id in added | removed):
            raise ForbiddenException(
                detail="A member is an owner of the organization, or holds more in it than an organization "
                "admin: change them in Gatehouse."
            )
        for user_id in sorted(added):
            org_service.update_member(actor_id=None, org_id=org_id, user_id=user_id, role=role)
        for user_id in sorted(removed):
            if role == ADMIN:
                org_service.update_member(actor_id=None, org_id=org_id, user_id=user_id, role=MEMBER)
            else:
                org_service.remove_member(actor_id=None, org_id=org_id, user_id=user_id)
        return self._group(uuid.UUID(current.id or ""))

    @staticmethod
    def _member_ids(resource: Resource[Any]) -> set[uuid.UUID]:
        ids = set()
        for member in resource.members or []:
            if member.value:
                try:
                    ids.add(uuid.UUID(member.value))
                except ValueError:
                    raise InvalidValueException(detail=f"members: {member.value!r} is not a user id.") from None
        return ids

    @staticmethod
    def _members(resource: Resource[Any]) -> set[uuid.UUID]:
        """The user ids a group resource lists; each must be an active user."""
        values = {member.value for member in resource.members or [] if member.value}
        ids = set()
        for value in values:
            try:
                ids.add(uuid.UUID(value))
            except ValueError:
                raise InvalidValueException(detail=f"members: {value!r} is not a user id.") from None
        active = {user.id for user in user_service.get_users(user_ids=list(ids)) if user.is_active}
        if unknown := sorted(str(user_id) for user_id in ids - active):
            raise InvalidValueException(detail=f"members: no active user {', '.join(unknown)}.")
        return ids

    @staticmethod
    def _set_members(group_id: uuid.UUID, wanted: set[uuid.UUID], *, current: set[uuid.UUID]) -> None:
        try:
            for user_id in sorted(wanted - current):
                permission_service.add_group_member(actor_id=None, group_id=group_id, user_id=user_id)
        except UserNotFound as exc:  # deactivated meanwhile
            raise InvalidValueException(detail=exc.message) from None
        for user_id in sorted(current - wanted):
            permission_service.remove_group_member(actor_id=None, group_id=group_id, user_id=user_id)


def _member_displays(resource: Resource[Any]) -> dict[str, str]:
    return {member.value: member.display for member in resource.members or [] if member.value and member.display}


def _message(exc: InvalidArgument) -> str:
    return " ".join([exc.message, *(f"{k}: {' '.join(map(str, v))}" for k, v in exc.details.items())])
