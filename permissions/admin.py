"""Django admin for RBAC. Every write goes through the core services, as the signed-in user:
escalation rules, the audit log and the rbac.* events apply exactly as for an API call."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect

from permissions.core import services
from permissions.models import Assignment, AuditEntry, Group, Permission, Role
from project.kernel.errors import DomainError


class ServiceBackedForm(forms.ModelForm):
    """Writes through the permissions service in `clean()`, so its errors land on the form."""

    actor_id = None  # set per request by the ModelAdmin

    def write(self, data):
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.saved = self.write(data)
        except DomainError as exc:
            fields = [f for f in exc.details if f in self.fields]
            for field in fields:
                self.add_error(field, exc.details[field])
            if not fields:
                raise forms.ValidationError(f"{exc.message} {exc.details or ''}".strip()) from exc
        return data


class RoleForm(ServiceBackedForm):
    class Meta:
        model = Role
        fields = ["name", "description", "permissions", "parents"]

    def validate_unique(self):
        pass  # the service decides

    def write(self, data):
        codes = [p.code for p in data.get("permissions", [])]
        parents = [r.id for r in data.get("parents", [])]
        if self.instance._state.adding:
            return services.role_create(
                actor_id=self.actor_id,
                name=data["name"],
                description=data.get("description", ""),
                permissions=codes,
                parents=parents,
            )
        return services.role_update(
            actor_id=self.actor_id,
            role_id=self.instance.id,
            name=data["name"],
            description=data.get("description", ""),
            permissions=codes,
            parents=parents,
        )


class ServiceBackedAdmin(admin.ModelAdmin):
    # Django's add, change and delete views run in an atomic block; the services own theirs
    # (durable), so these views run without it: each write is one service transaction.
    @method_decorator(csrf_protect)
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._changeform_view(request, object_id, form_url, extra_context)

    @method_decorator(csrf_protect)
    def delete_view(self, request, object_id, extra_context=None):
        return self._delete_view(request, object_id, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor_id": request.user.id})

    def save_model(self, request, obj, form, change):
        obj.pk = form.saved.pk  # already written by the form through the service

    def save_related(self, request, form, formsets, change):
        pass  # the service wrote the relations too


@admin.register(Role)
class RoleAdmin(ServiceBackedAdmin):
    form = RoleForm
    list_display = ["name", "description", "is_system", "grants_all", "updated_at"]
    list_filter = ["is_system"]
    search_fields = ["name", "description"]
    filter_horizontal = ["permissions", "parents"]

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_system)

    def delete_model(self, request, obj):
        try:
            services.role_delete(actor_id=request.user.id, role_id=obj.id)
        except DomainError as exc:
            self.message_user(request, f"{obj.name}: {exc.message}", messages.ERROR)

    def delete_queryset(self, request, queryset):
        for role in queryset:
            self.delete_model(request, role)


class GroupForm(ServiceBackedForm):
    class Meta:
        model = Group
        fields = ["name", "description"]

    def validate_unique(self):
        pass

    def write(self, data):
        return services.group_create(actor_id=self.actor_id, name=data["name"], description=data.get("description", ""))


@admin.register(Group)
class GroupAdmin(ServiceBackedAdmin):
    form = GroupForm
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]

    def has_change_permission(self, request, obj=None):
        return False  # members and assignments change through the API or `manage.py rbac`

    def delete_model(self, request, obj):
        services.group_delete(actor_id=request.user.id, group_id=obj.id)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            self.delete_model(request, group)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["role", "user_id", "group", "scope", "expires_at", "created_at", "granted_by"]
    list_filter = ["role"]
    search_fields = ["=user_id", "scope", "role__name", "group__name"]
    list_select_related = ["role", "group"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected assignments")
    def revoke(self, request, queryset):
        for assignment in queryset:
            services.assignment_revoke(actor_id=request.user.id, assignment_id=assignment.id)
        self.message_user(request, f"Revoked {queryset.count()} assignment(s).", messages.SUCCESS)


@admin.register(Permission)
class PermissionAdmin(ReadOnlyAdmin):
    list_display = ["code", "description"]
    search_fields = ["code", "description"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "action", "target_type", "target_id", "actor_id", "request_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["=target_id", "=actor_id", "=request_id"]
    ordering = ["-occurred_at"]
