"""REST endpoints of /api/v1/rbac/ (docs/rbac.md).

Every view goes through `permission_service`, like any other caller, and asks it whether the
caller holds the endpoint's permission; the service itself refuses escalation.
"""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway.direct import NOT_JSON, answered_first, json_of, json_response, plain_request
from gateway.fields import StringField, plain_text
from gateway.orgs import require_scope_mfa
from gateway.parsers import json_body
from gateway.permissions import RequiresPermission
from permissions.interface import (
    MAX_PAGE_SIZE,
    RoleNotFound,
    UnknownPermission,
    permission_service,
)
from project.pagination import PageInput, offset_page, paged

CHECK_ANY = "rbac.check.any"
MANAGE_ASSIGNMENTS = "rbac.assignment.manage"


def _page(request, items: list) -> tuple[list, str | None]:
    """A page of a short, fully loaded list (the registry, roles, groups)."""
    params = PageInput(data=request.query_params)
    params.is_valid(raise_exception=True)
    return offset_page(items, limit=params.validated_data["limit"], cursor=params.validated_data.get("cursor"))


# --- The registry --------------------------------------------------------------------------------


class PermissionOutput(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class PermissionListApi(APIView):
    permission_classes = [RequiresPermission("rbac.role.view")]

    @extend_schema(
        operation_id="list_permissions",
        parameters=[PageInput],
        responses={200: paged("PermissionPage", PermissionOutput)},
    )
    def get(self, request):
        page, next_cursor = _page(request, permission_service.list_permissions())
        return Response({"results": PermissionOutput(page, many=True).data, "next": next_cursor})


# --- Roles ---------------------------------------------------------------------------------------


def _role_id(value: str, field: str = "role") -> uuid.UUID:
    """A role by id or by name (a name that names no role is a 400 on `field`; an unknown id is
    left to the service, which knows)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        try:
            return permission_service.get_role_by_name(name=value).id
        except RoleNotFound:
            raise ValidationError({field: [f"No role named {value!r}."]}) from None


def _role_ids(values: list[str], field: str) -> list[uuid.UUID]:
    return [_role_id(value, field) for value in values]


class RoleOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())
    parents = serializers.ListField(child=serializers.UUIDField())
    is_system = serializers.BooleanField()
    grants_all = serializers.BooleanField()


class RoleListApi(APIView):
    permission_classes = [RequiresPermission({"GET": "rbac.role.view", "*": "rbac.role.manage"})]

    class RoleCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
        permissions = serializers.ListField(child=serializers.CharField(max_length=150), required=False, default=list)
        parents = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False, default=list, help_text="Role ids or names."
        )

    @extend_schema(operation_id="list_roles", parameters=[PageInput], responses={200: paged("RolePage", RoleOutput)})
    def get(self, request):
        page, next_cursor = _page(request, permission_service.list_roles())
        return Response({"results": RoleOutput(page, many=True).data, "next": next_cursor})

    @extend_schema(operation_id="create_role", request=RoleCreateInput, responses={201: RoleOutput})
    def post(self, request):
        data = self.RoleCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = {**data.validated_data, "parents": _role_ids(data.validated_data["parents"], "parents")}
        role = permission_service.create_role(actor_id=request.user.id, **values)
        return Response(RoleOutput(role).data, status=status.HTTP_201_CREATED)


class RoleDetailApi(APIView):
    permission_classes = [RequiresPermission({"GET": "rbac.role.view", "*": "rbac.role.manage"})]

    class RoleUpdateInput(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)
        description = serializers.CharField(max_length=300, required=False, allow_blank=True)
        permissions = serializers.ListField(child=serializers.CharField(max_length=150), required=False)
        parents = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False, help_text="Role ids or names."
        )

    @extend_schema(operation_id="get_role", responses={200: RoleOutput})
    def get(self, request, role_id: uuid.UUID):
        return Response(RoleOutput(permission_service.get_role(role_id=role_id)).data)

    @extend_schema(operation_id="update_role", request=RoleUpdateInput, responses={200: RoleOutput})
    def patch(self, request, role_id: uuid.UUID):
        data = self.RoleUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "parents" in values:
            values["parents"] = _role_ids(values["parents"], "parents")
        role = permission_service.update_role(actor_id=request.user.id, role_id=role_id, **values)
        return Response(RoleOutput(role).data)

    @extend_schema(operation_id="delete_role", responses={204: None})
    def delete(self, request, role_id: uuid.UUID):
        permission_service.delete_role(actor_id=request.user.id, role_id=role_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Groups --------------------------------------------------------------------------------------


class GroupOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()


class GroupListApi(APIView):
    permission_classes = [RequiresPermission("rbac.group.manage")]

    class GroupCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(operation_id="list_groups", parameters=[PageInput], responses={200: paged("GroupPage", GroupOutput)})
    def get(self, request):
        page, next_cursor = _page(request, permission_service.list_groups())
        return Response({"results": GroupOutput(page, many=True).data, "next": next_cursor})

    @extend_schema(operation_id="create_group", request=GroupCreateInput, responses={201: GroupOutput})
    def post(self, request):
        data = self.GroupCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        group = permission_service.create_group(actor_id=request.user.id, **data.validated_data)
        return Response(GroupOutput(group).data, status=status.HTTP_201_CREATED)


class GroupMembersApi(APIView):
    permission_classes = [RequiresPermission("rbac.group.manage")]

    class GroupMemberInput(serializers.Serializer):
        user_id = serializers.UUIDField()

    @extend_schema(
        operation_id="group_members",
        responses={
            200: inline_serializer("GroupMembers", {"user_ids": serializers.ListField(child=serializers.UUIDField())})
        },
    )
    def get(self, request, group_id: uuid.UUID):
        return Response({"user_ids": [str(u) for u in permission_service.group_members(group_id=group_id)]})

    @extend_schema(operation_id="add_group_member", request=GroupMemberInput, responses={204: None})
    def post(self, request, group_id: uuid.UUID):
        data = self.GroupMemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        permission_service.add_group_member(actor_id=request.user.id, group_id=group_id, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="remove_group_member", request=GroupMemberInput, responses={204: None})
    def delete(self, request, group_id: uuid.UUID):
        # The user id in the body, or as ?user_id= for clients that send no body with DELETE.
        data = self.GroupMemberInput(data=request.data or request.query_params)
        data.is_valid(raise_exception=True)
        permission_service.remove_group_member(actor_id=request.user.id, group_id=group_id, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Assignments ---------------------------------------------------------------------------------


class AssignmentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.UUIDField(source="role_id")
    role_name = serializers.CharField()
    user_id = serializers.UUIDField(allow_null=True)
    group_id = serializers.UUIDField(allow_null=True)
    scope = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    granted_by = serializers.UUIDField(allow_null=True)


def _may_manage_assignments_in(request, scope: str | None) -> None:
    """Granting and revoking need rbac.assignment.manage where the assignment holds: a manager of
    `org:acme` manages assignments in `org:acme` and below, and nowhere else. In an org's scope (or
    below it) whose org requires a second factor, the caller needs one too (403 `mfa_required`,
    docs/orgs.md)."""
    if not permission_service.check(user_id=request.user.id, permission=MANAGE_ASSIGNMENTS, scope=scope):
        raise PermissionDenied(
            f"Managing assignments in {scope or 'the global scope'} needs {MANAGE_ASSIGNMENTS} there."
        )
    require_scope_mfa(user_id=request.user.id, scope=scope)


class AssignmentListApi(APIView):
    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated()]  # and the permission in the assignment's scope, below
        return [RequiresPermission(MANAGE_ASSIGNMENTS)]

    class AssignmentFilter(PageInput):
        user_id = serializers.UUIDField(required=False)
        group_id = serializers.UUIDField(required=False)
        role = serializers.CharField(required=False, max_length=100)

    class AssignmentGrantInput(serializers.Serializer):
        role = serializers.CharField(max_length=100, help_text="The role's id or name.")
        user_id = serializers.UUIDField(required=False, allow_null=True, default=None)
        group_id = serializers.UUIDField(required=False, allow_null=True, default=None)
        scope = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True, default=None)
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(
        operation_id="list_assignments",
        parameters=[AssignmentFilter],
        responses={200: paged("AssignmentPage", AssignmentOutput)},
    )
    def get(self, request):
        filters = self.AssignmentFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        values = dict(filters.validated_data)
        role = values.pop("role", None)
        page = permission_service.list_assignments(role_id=_role_id(role) if role else None, **values)
        return Response({"results": AssignmentOutput(page.results, many=True).data, "next": page.next})

    @extend_schema(operation_id="grant_role", request=AssignmentGrantInput, responses={201: AssignmentOutput})
    def post(self, request):
        data = self.AssignmentGrantInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        _may_manage_assignments_in(request, values["scope"])
        assignment = permission_service.grant_role(
            actor_id=request.user.id, role_id=_role_id(values.pop("role")), **values
        )
        return Response(AssignmentOutput(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentDetailApi(APIView):
    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]  # and the permission in the assignment's scope, below
        return [RequiresPermission(MANAGE_ASSIGNMENTS)]

    @extend_schema(operation_id="get_assignment", responses={200: AssignmentOutput})
    def get(self, request, assignment_id: uuid.UUID):
        return Response(AssignmentOutput(permission_service.get_assignment(assignment_id=assignment_id)).data)

    @extend_schema(operation_id="revoke_assignment", responses={204: None})
    def delete(self, request, assignment_id: uuid.UUID):
        assignment = permission_service.get_assignment(assignment_id=assignment_id)
        _may_manage_assignments_in(request, assignment.scope)
        permission_service.revoke_assignment(actor_id=request.user.id, assignment_id=assignment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Checks --------------------------------------------------------------------------------------


class CheckItem(serializers.Serializer):
    permission = StringField(max_length=150)
    scope = StringField(max_length=500, required=False, allow_null=True, allow_blank=True, default=None)
    user_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class CheckInput(serializers.Serializer):
    """One check (`permission`, `scope`, `user_id`) or a batch (`checks`: a list of them)."""

    permission = StringField(max_length=150, required=False)
    scope = StringField(max_length=500, required=False, allow_null=True, allow_blank=True, default=None)
    user_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    checks = CheckItem(many=True, required=False, max_length=MAX_PAGE_SIZE)

    def validate(self, attrs):
        if ("checks" in attrs) == ("permission" in attrs):
            raise ValidationError({"non_field_errors": ["Give either permission or checks."]})
        return attrs


def _plain_fields(data: dict) -> dict | None:
    """CheckItem's fields of `data` (`permission` only if given), when plainly valid; else None."""
    values: dict = {"scope": None, "user_id": None}
    if "permission" in data:
        values["permission"] = plain_text(data["permission"], 150)
        if values["permission"] is None:
            return None
    if data.get("scope") is not None:
        values["scope"] = plain_text(data["scope"], 500)
        if values["scope"] is None:
            return None
    if data.get("user_id") is not None:
        if type(data["user_id"]) is not str:
            return None
        try:
            values["user_id"] = uuid.UUID(data["user_id"])  # the field's own parse of a string
        except ValueError:
            return None
    return values


def plain_check_input(data) -> dict | None:
    """CheckInput's validated data, read with plain code, for a body that is plainly valid (issue
    24: the serializer cost the check more than the check itself). None for anything else: the
    serializer then decides, so every invalid body gets exactly its error, and the few valid bodies
    left to it (an integer user id, a blank scope, non-ASCII text) its reading.
    tests/permissions/test_check_input.py proves the two agree."""
    if type(data) is not dict:
        return None
    values = _plain_fields(data)
    if values is None:
        return None
    if "checks" not in data:
        return values if "permission" in values else None
    checks = data["checks"]
    if "permission" in values or type(checks) is not list or len(checks) > MAX_PAGE_SIZE:
        return None
    items = []
    for check in checks:
        item = _plain_fields(check) if type(check) is dict else None
        if item is None or "permission" not in item:
            return None
        items.append(item)
    values["checks"] = items
    return values


def _subject(request, user_id: uuid.UUID | None) -> uuid.UUID:
    """Whose permissions: one's own, or (with rbac.check.any) anyone's."""
    if user_id is None or user_id == request.user.id:
        return request.user.id
    if not permission_service.check(user_id=request.user.id, permission=CHECK_ANY):
        raise PermissionDenied(f"Checking another user's permissions needs {CHECK_ANY}.")
    return user_id


def _unknown(asked: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The (index, code) pairs whose code nobody declared."""
    undeclared = set(permission_service.undeclared_permissions(codes=[code for _, code in asked]))
    return [(i, code) for i, code in asked if code in undeclared]


def _refuse_unknown_permissions(codes: list[str], denied: list[bool] | None = None) -> None:
    """A check of a permission nobody declared is a mistake (a typo, a removed code), not a
    `false`: 400 `unknown_permission`, as explain's reason says. Only denied answers can be
    such, so an allowed check costs nothing more. `denied` is the batch's answers (False: denied)."""
    asked = [(i, code) for i, code in enumerate(codes) if denied is None or not denied[i]]
    if not asked:
        return
    unknown = _unknown(asked)
    if not unknown:
        return
    message = f"Unknown permission: {', '.join(sorted({code for _, code in unknown}))}."
    if denied is None:
        raise UnknownPermission(message, details={"permission": [f"Unknown permission: {unknown[0][1]}"]})
    raise UnknownPermission(
        message, details={"checks": {str(i): {"permission": [f"Unknown permission: {code}"]} for i, code in unknown}}
    )


def direct_check(request) -> HttpResponse | None:
    """The answer to one check of one's own permission, plainly asked, without DRF's dispatch
    (gateway.direct; issue 24). None for the rest, which CheckApi answers: a batch, another
    user's permissions, any body the plain reading does not vouch for, and a denial of a code
    nobody declared (400 `unknown_permission`)."""
    principal = plain_request(request, "POST")
    if principal is None:
        return None
    body = json_of(request)
    values = plain_check_input(body) if body is not NOT_JSON else None
    if values is None or "permission" not in values or values["user_id"] not in (None, principal.user_id):
        return None
    permission = values["permission"]
    if permission_service.check(user_id=principal.user_id, permission=permission, scope=values["scope"]):
        return json_response({"allowed": True})
    return None if _unknown([(0, permission)]) else json_response({"allowed": False})


class CheckApi(APIView):
    permission_classes = [IsAuthenticated]

    @classmethod
    def as_view(cls, **initkwargs):
        return answered_first(super().as_view(**initkwargs), direct_check)

    @extend_schema(
        operation_id="check",
        request=CheckInput,
        responses={
            200: inline_serializer(
                "CheckResult",
                {
                    "allowed": serializers.BooleanField(required=False),
                    "results": serializers.ListField(child=serializers.BooleanField(), required=False),
                },
            )
        },
    )
    def post(self, request):
        body = json_body(request)
        values = plain_check_input(body)
        if values is None:
            data = CheckInput(data=body)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        if "permission" in values:
            user_id = _subject(request, values["user_id"])
            allowed = permission_service.check(user_id=user_id, permission=values["permission"], scope=values["scope"])
            if not allowed:
                _refuse_unknown_permissions([values["permission"]])
            return Response({"allowed": allowed})
        default = values["user_id"]
        by_user: dict[uuid.UUID, list[int]] = {}
        for index, item in enumerate(values["checks"]):
            by_user.setdefault(_subject(request, item["user_id"] or default), []).append(index)
        results: list[bool] = [False] * len(values["checks"])
        for user_id, indices in by_user.items():
            answers = permission_service.check_many(
                user_id=user_id,
                checks=[(values["checks"][i]["permission"], values["checks"][i]["scope"]) for i in indices],
            )
            for i, answer in zip(indices, answers, strict=True):
                results[i] = answer
        _refuse_unknown_permissions([item["permission"] for item in values["checks"]], denied=results)
        return Response({"results": results})


class ExplanationOutput(serializers.Serializer):
    allowed = serializers.BooleanField()
    user_id = serializers.UUIDField()
    permission = serializers.CharField()
    scope = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    message = serializers.CharField()
    assignment = AssignmentOutput(allow_null=True)
    group_id = serializers.UUIDField(allow_null=True)
    role_chain = serializers.ListField(child=serializers.CharField())
    roles_granting = serializers.ListField(child=serializers.CharField())


class ExplainApi(APIView):
    permission_classes = [RequiresPermission(CHECK_ANY)]

    @extend_schema(operation_id="explain", request=CheckItem, responses={200: ExplanationOutput})
    def post(self, request):
        data = CheckItem(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        why = permission_service.explain(
            user_id=values["user_id"] or request.user.id, permission=values["permission"], scope=values["scope"]
        )
        return Response(ExplanationOutput(why).data)


class UserPermissionsApi(APIView):
    permission_classes = [IsAuthenticated]

    class EffectivePermissionsFilter(serializers.Serializer):
        scope = serializers.CharField(max_length=500, required=False, allow_blank=True, default=None)

    @extend_schema(
        operation_id="effective_permissions",
        parameters=[EffectivePermissionsFilter],
        responses={
            200: inline_serializer(
                "EffectivePermissions",
                {
                    "user_id": serializers.UUIDField(),
                    "scope": serializers.CharField(allow_null=True),
                    "permissions": serializers.ListField(child=serializers.CharField()),
                },
            )
        },
    )
    def get(self, request, user_id: uuid.UUID):
        filters = self.EffectivePermissionsFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        scope = filters.validated_data["scope"] or None
        held = permission_service.effective_permissions(user_id=_subject(request, user_id), scope=scope)
        return Response({"user_id": str(user_id), "scope": scope, "permissions": sorted(held)})


# --- Audit ---------------------------------------------------------------------------------------


class AuditOutput(serializers.Serializer):
    id = serializers.UUIDField()
    occurred_at = serializers.DateTimeField()
    actor_id = serializers.UUIDField(allow_null=True)
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    request_id = serializers.CharField(allow_null=True)


class AuditListApi(APIView):
    permission_classes = [RequiresPermission("rbac.audit.view")]

    @extend_schema(operation_id="list_audit", parameters=[PageInput], responses={200: paged("AuditPage", AuditOutput)})
    def get(self, request):
        params = PageInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = permission_service.list_audit(**params.validated_data)
        return Response({"results": AuditOutput(page.results, many=True).data, "next": page.next})
