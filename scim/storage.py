"""Where scim2-server reads and writes: Gatehouse's users and RBAC groups, through the users, auth
and permissions interfaces, plus this app's own rows for what identity providers say beyond them
(docs/scim.md). scim2-server owns the protocol: routing, filters' grammar, PATCH, ETag checks.

The interfaces are called with no transaction open: in the split shape they are gRPC calls.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from scim2_models import (
    EnterpriseUser,
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
from permissions.interface import GroupNameTaken, GroupNotFound, InvalidRbacInput, permission_service
from project.kernel.errors import InvalidArgument
from users.interface import MAX_PAGE_SIZE, EmailTaken, UserNotFound, user_service
from users.interface import User as GatehouseUser

from .models import ScimGroup, ScimUser

ScimUserResource = User[EnterpriseUser]
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
            return self._group_create(resource)
        try:
            user = user_service.create_user(
                email=resource.user_name or "",
                display_name=resource.display_name or "",
                is_active=resource.active is not False,
                # The identity provider owns the directory and vouches for its addresses.
                is_verified=True,
            )
        except EmailTaken:
            raise UniquenessException(detail="userName is already taken.") from None
        except InvalidArgument as exc:
            raise InvalidValueException(detail=_message(exc)) from None
        row = ScimUser.objects.create(
            user_id=user.id, external_id=resource.external_id or "", attributes=_user_extra(resource)
        )
        return _user_resource(user, row)

    def update(self, resource_type: ResourceType, resource: Resource[Any], *, expected_version=None):
        if resource_type.name == "Group":
            return self._group_update(resource, expected_version)
        user_id = _uuid(resource.id or "")
        current = self._user(user_id)
        _check_version(current, expected_version)
        user = user_service.get_user(user_id=user_id)
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
        if resource.active is False and user.is_active:
            user = self._deactivate(user_id)
        elif resource.active is True and not user.is_active:
            raise InvalidValueException(detail="A deactivated user cannot be reactivated through SCIM yet.")
        row, _ = ScimUser.objects.update_or_create(
            user_id=user_id, defaults={"external_id": resource.external_id or "", "attributes": _user_extra(resource)}
        )
        return _user_resource(user, row)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version=None) -> None:
        if resource_type.name == "Group":
            group_id = _uuid(resource_id)
            _check_version(self._group(group_id), expected_version)
            permission_service.delete_group(actor_id=None, group_id=group_id)
            ScimGroup.objects.filter(group_id=group_id).delete()
            return
        user_id = _uuid(resource_id)
        _check_version(self._user(user_id), expected_version)
        self._deactivate(user_id)
        ScimUser.objects.update_or_create(user_id=user_id, defaults={"deleted": True})

    # --- Users ---------------------------------------------------------------------------------

    def _user(self, user_id: uuid.UUID) -> Resource[Any]:
        row = ScimUser.objects.filter(user_id=user_id).first()
        if row is not None and row.deleted:
            raise NotFoundException(detail=f"Resource {user_id} not found")
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
        if eq is not None and eq[0] == USER_URN + "userName":
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

    # --- Groups --------------------------------------------------------------------------------

    def _group(self, group_id: uuid.UUID) -> Resource[Any]:
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

    def _group_candidates(self) -> list[Resource[Any]]:
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
