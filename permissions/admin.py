"""Django admin for RBAC. Every write goes through `permission_service`, as the signed-in user:
escalation rules, the audit log and the rbac.* events apply exactly as for an API call. Who sees
and changes what is Django's has_*_permission hooks, which ask RBAC (permissions.backends)."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group as DjangoGroup
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path, reverse

from gateway.people_admin import PeopleAdmin, person
from permissions.interface import (
    MAX_PAGE_SIZE,
    EscalationDenied,
    InvalidScope,
    SystemRoleProtected,
    normalise_scope,
    permission_service,
)
from permissions.models import Assignment, AuditEntry, Group, Permission, Role
from project import service_admin
from project.kernel.errors import DomainError
from project.service_admin import ReadOnlyAdmin, ServiceBackedAdmin
from users.interface import UserNotFound, user_service

EXPLAIN_PERMISSION = "rbac.check.any"


def _escalation_message(exc: EscalationDenied) -> str:
    missing = ", ".join(exc.details.get("missing_permissions", ()))
    return f"{exc.message} Missing: {missing} (scope: {exc.details.get('scope') or 'global'})."


def _user_by_email(email: str, field: str | None = None):
    """The user with this email; else a validation error, on `field` if given (from `clean()`)."""
    try:
        return user_service.get_user_by_email(email=email)
    except UserNotFound:
        error = forms.ValidationError("No user has this email.", code="user_not_found")
        raise (forms.ValidationError({field: error}) if field else error) from None


class ServiceBackedForm(service_admin.ServiceBackedForm):
    def error_message(self, exc):
        return _escalation_message(exc) if isinstance(exc, EscalationDenied) else super().error_message(exc)


# --- Roles ---------------------------------------------------------------------------------------


class RoleForm(ServiceBackedForm):
    class Meta:
        model = Role
        fields = ["name", "description", "permissions", "parents"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding and "parents" in self.fields:
            self.fields["parents"].queryset = self.fields["parents"].queryset.exclude(pk=self.instance.pk)

    def validate_unique(self):
        pass  # the service decides

    def write(self, data):
        fields = {
            "name": data["name"],
            "description": data.get("description", ""),
            "permissions": [p.code for p in data.get("permissions", [])],
            "parents": [r.id for r in data.get("parents", [])],
        }
        if self.instance._state.adding:
            return permission_service.create_role(actor_id=self.actor_id, **fields)
        return permission_service.update_role(actor_id=self.actor_id, role_id=self.instance.id, **fields)


@admin.register(Role)
class RoleAdmin(ServiceBackedAdmin):
    form = RoleForm
    list_display = ["name", "description", "is_system", "grants_all", "updated_at"]
    list_filter = ["is_system"]
    search_fields = ["name", "description"]
    filter_horizontal = ["permissions", "parents"]

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_system)

    def delete_refusal(self, request, obj):
        return SystemRoleProtected().message if obj.is_system else None

    def delete_model(self, request, obj):
        permission_service.delete_role(actor_id=request.user.id, role_id=obj.id)

    def delete_queryset(self, request, queryset):
        for role in queryset:
            try:
                self.delete_model(request, role)
            except DomainError as exc:
                self.message_user(request, f"{role.name}: {exc.message}", messages.ERROR)


# --- Groups and their members --------------------------------------------------------------------


class GroupForm(ServiceBackedForm):
    class Meta:
        model = Group
        fields = ["name", "description"]

    def validate_unique(self):
        pass

    def write(self, data):
        return permission_service.create_group(
            actor_id=self.actor_id, name=data["name"], description=data.get("description", "")
        )


class GroupMembersForm(ServiceBackedForm):
    """A group's members: one added by email, any removed by ticking them (the name is fixed)."""

    add_member = forms.EmailField(
        label="Add a member", required=False, help_text="The user's email. They gain the group's roles."
    )
    remove_members = forms.MultipleChoiceField(
        label="Members", required=False, widget=forms.CheckboxSelectMultiple, help_text="Tick members to remove."
    )
    field_aliases = {"user_id": "add_member"}  # the service refuses a deactivated user there

    class Meta:
        model = Group
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        member_ids = permission_service.group_members(group_id=self.instance.id)
        emails = {user.id: user.email for user in user_service.get_users(user_ids=member_ids)}
        self.fields["remove_members"].choices = sorted(
            ((str(user_id), emails.get(user_id, str(user_id))) for user_id in member_ids), key=lambda c: c[1]
        )

    def validate_unique(self):
        pass

    def write(self, data):
        group_id = self.instance.id
        if data.get("add_member"):
            user = _user_by_email(data["add_member"], "add_member")
            permission_service.add_group_member(actor_id=self.actor_id, group_id=group_id, user_id=user.id)
        for user_id in data.get("remove_members", []):
            permission_service.remove_group_member(
                actor_id=self.actor_id, group_id=group_id, user_id=uuid.UUID(user_id)
            )
        return self.instance


@admin.register(Group)
class GroupAdmin(ServiceBackedAdmin):
    form = GroupForm
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            kwargs["form"] = GroupMembersForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "description"]
        return ["name", "description", "roles", "add_member", "remove_members"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "description", "roles"] if obj is not None else []

    @admin.display(description="Roles (assignments)")
    def roles(self, obj):
        page = permission_service.list_assignments(group_id=obj.id, limit=MAX_PAGE_SIZE)
        shown = [f"{a.role_name} in {a.scope or 'global'}" for a in page.results]
        if page.next:
            shown.append("… (see Assignments)")
        return "; ".join(shown) or "none"

    def delete_model(self, request, obj):
        permission_service.delete_group(actor_id=request.user.id, group_id=obj.id)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            try:
                self.delete_model(request, group)
            except DomainError as exc:
                self.message_user(request, f"{group.name}: {exc.message}", messages.ERROR)


# --- Assignments and the explain page ------------------------------------------------------------


class AssignmentForm(ServiceBackedForm):
    user_email = forms.EmailField(label="User", required=False, help_text="The user's email; or pick a group.")
    field_aliases = {"user_id": "user_email", "group_id": "group", "role_id": "role"}

    class Meta:
        model = Assignment
        fields = ["role", "group", "scope", "expires_at"]
        help_texts = {
            "scope": "Empty for global, else a path such as org:acme/project:42 (it covers everything below).",
            "expires_at": "Optional: the assignment stops granting at this time.",
        }

    def validate_unique(self):
        pass

    def clean_scope(self):
        try:
            return normalise_scope(self.cleaned_data.get("scope")) or ""
        except InvalidScope as exc:
            raise forms.ValidationError(exc.details.get("scope") or exc.message) from exc

    def write(self, data):
        email, group = data.get("user_email"), data.get("group")
        if bool(email) == bool(group):
            raise forms.ValidationError("Give either a user's email or a group, not both.")
        user = _user_by_email(email, "user_email") if email else None
        return permission_service.grant_role(
            actor_id=self.actor_id,
            role_id=data["role"].id,
            user_id=user.id if user else None,
            group_id=group.id if group else None,
            scope=data.get("scope") or None,
            expires_at=data.get("expires_at"),
        )


class ExplainForm(forms.Form):
    email = forms.EmailField(label="User's email")
    permission = forms.ChoiceField()
    scope = forms.CharField(required=False, help_text="Empty for global, e.g. org:acme/project:42.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permission"].choices = [
            (p.code, f"{p.code} — {p.description}" if p.description else p.code)
            for p in permission_service.list_permissions()
        ]

    def clean_email(self):
        self.user = _user_by_email(self.cleaned_data["email"])
        return self.cleaned_data["email"]

    def clean_scope(self):
        try:
            return normalise_scope(self.cleaned_data.get("scope"))
        except InvalidScope as exc:
            raise forms.ValidationError(exc.details.get("scope") or exc.message) from exc


@admin.register(Assignment)
class AssignmentAdmin(PeopleAdmin, ServiceBackedAdmin):
    form = AssignmentForm
    list_display = ["role", "user", "group", "scope_or_global", "expires_at", "created_at", "granted_by_person"]
    list_filter = ["role"]
    search_fields = ["scope", "role__name", "group__name"]  # and people, by email or name (PeopleAdmin)
    list_select_related = ["role", "group"]
    actions = ["revoke"]
    people_fields = ("user_id", "granted_by")

    user = person("user_id", "User")
    granted_by_person = person("granted_by", "Granted by", nobody="system")

    def get_urls(self):
        explain = path("explain/", self.admin_site.admin_view(self.explain_view), name="permissions_assignment_explain")
        return [explain, *super().get_urls()]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["role", "user_email", "group", "scope", "expires_at"]
        return ["role", "user", "group", "scope", "expires_at", "created_at", "granted_by_person"]

    def has_change_permission(self, request, obj=None):
        return False  # an assignment is granted or revoked, never edited

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # `revoke` says what it does
        return actions

    def save_model(self, request, obj, form, change):
        # What the service wrote, so the message and the log name the user ("to None" otherwise).
        saved = form.saved
        obj.pk, obj.user_id, obj.group_id, obj.granted_by = saved.id, saved.user_id, saved.group_id, saved.granted_by
        self.attach_people([obj])

    def delete_model(self, request, obj):
        permission_service.revoke_assignment(actor_id=request.user.id, assignment_id=obj.id)

    @admin.display(description="Scope", ordering="scope")
    def scope_or_global(self, obj):
        return obj.scope or "global"

    @admin.action(description="Revoke selected assignments", permissions=["delete"])
    def revoke(self, request, queryset):
        revoked, assignments = 0, list(queryset.select_related("role", "group"))
        self.attach_people(assignments)
        for assignment in assignments:
            try:
                permission_service.revoke_assignment(actor_id=request.user.id, assignment_id=assignment.id)
                revoked += 1
            except DomainError as exc:
                self.message_user(request, f"{assignment}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Revoked {revoked} assignment(s).", messages.SUCCESS)

    def explain_view(self, request):
        """Why can (or can't) this user do this here: the service's explanation, for a person."""
        if not request.user.has_perm(EXPLAIN_PERMISSION):
            raise PermissionDenied
        # Bound once a permission is asked; a user's page links here with the email alone.
        bound = "permission" in request.GET
        form = ExplainForm(request.GET if bound else None, initial={"email": request.GET.get("email", "")})
        explanation = assignment_subject = None
        if form.is_bound and form.is_valid():
            explanation = permission_service.explain(
                user_id=form.user.id, permission=form.cleaned_data["permission"], scope=form.cleaned_data["scope"]
            )
            assignment_subject = _assignment_subject(explanation.assignment)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Explain a check",
            "form": form,
            "explanation": explanation,
            "assignment_subject": assignment_subject,
            "assignment_url": (
                reverse("admin:permissions_assignment_change", args=[explanation.assignment.id])
                if explanation and explanation.assignment
                else None
            ),
        }
        return TemplateResponse(request, "admin/permissions/explain.html", context)


def _assignment_subject(assignment) -> str | None:
    if assignment is None:
        return None
    if assignment.group_id is not None:
        try:
            return f"group {permission_service.get_group(group_id=assignment.group_id).name}"
        except DomainError:
            return f"group {assignment.group_id}"
    try:
        return user_service.get_user(user_id=assignment.user_id).email
    except UserNotFound:
        return str(assignment.user_id)


# Django's own groups carry Django permissions, which nothing reads here (users have no
# PermissionsMixin): in the admin, "Groups" are RBAC's only.
if admin.site.is_registered(DjangoGroup):
    admin.site.unregister(DjangoGroup)


# --- Read-only: the registry and the audit log ---------------------------------------------------


@admin.register(Permission)
class PermissionAdmin(ReadOnlyAdmin):
    list_display = ["code", "description"]
    search_fields = ["code", "description"]


@admin.register(AuditEntry)
class AuditEntryAdmin(PeopleAdmin, ReadOnlyAdmin):
    list_display = ["occurred_at", "action", "target_type", "target", "actor", "request_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["=target_id", "=actor_id", "=request_id"]  # and people by email or name (PeopleAdmin)
    ordering = ["-occurred_at"]
    people_fields = ("actor_id", "target_user_id")
    fields = ["occurred_at", "action", "target_type", "target", "actor", "before", "after", "request_id"]
    readonly_fields = fields

    def attach_people(self, objs):
        objs = list(objs)
        for entry in objs:
            entry.target_user_id = uuid.UUID(entry.target_id) if entry.target_type == "user" else None
        super().attach_people(objs)

    def people_query(self, user_ids):
        return Q(actor_id__in=user_ids) | Q(target_type="user", target_id__in=[str(u) for u in user_ids])

    @admin.display(description="Target", ordering="target_id")
    def target(self, obj):
        if not hasattr(obj, "people"):
            self.attach_people([obj])
        return obj.people["target_user_id"] or obj.target_id

    @admin.display(description="Actor")
    def actor(self, obj):
        if not hasattr(obj, "people"):
            self.attach_people([obj])
        return obj.people["actor_id"] or (f"service {obj.actor_service}" if obj.actor_service else "system")
