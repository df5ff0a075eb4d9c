"""Django admin pages that write through a core service instead of saving models themselves, and
the read-only pages of what only a service or the event pipeline writes.

The form calls the service in `clean()`, so the service's validation and domain errors land on
the form (a field's error on that field, the rest above the form), and the service's events and
audit happen exactly as for an API call. The admin then only records what the service wrote.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect

from project.kernel.errors import DomainError


class ServiceBackedForm(forms.ModelForm):
    """Implement `write(cleaned_data)`: call the service, return what it wrote (with an `id`)."""

    actor_id = None  # who acts: set per request by ServiceBackedAdmin
    # The service's names for the fields this form calls otherwise (e.g. a user picked by email).
    # Details that name a field carry a list of messages for it (the services' convention).
    field_aliases: dict[str, str] = {}

    def write(self, data):
        raise NotImplementedError

    def error_message(self, exc: DomainError) -> str:
        """The message above the form for an error no field can carry."""
        return f"{exc.message} {exc.details or ''}".strip()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.saved = self.write(data)
        except DomainError as exc:
            placed = False
            for key, value in exc.details.items():
                field = self.field_aliases.get(key, key)
                if field in self.fields and isinstance(value, list):
                    self.add_error(field, value)
                    placed = True
            if not placed:
                raise forms.ValidationError(self.error_message(exc), code=exc.code) from exc
        return data


class ServiceBackedAdmin(admin.ModelAdmin):
    # Django's add, change and delete views run in an atomic block; the services own theirs
    # (durable: their events leave only after their own commit), so these views run without it.
    @method_decorator(csrf_protect)
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._changeform_view(request, object_id, form_url, extra_context)

    @method_decorator(csrf_protect)
    def delete_view(self, request, object_id, extra_context=None):
        # A refusal (a system role, the service's own error) is a message on the page the
        # operator came from, saying why, not a bare 403 or a false "deleted successfully".
        # Only to who may delete such objects at all: anyone else gets the plain 403.
        obj = self.get_object(request, unquote(object_id)) if self.has_delete_permission(request) else None
        refusal = self.delete_refusal(request, obj) if obj is not None else None
        if refusal is None:
            try:
                return self._delete_view(request, object_id, extra_context)
            except DomainError as exc:
                refusal = exc.message
        self.message_user(request, f"{obj}: {refusal}" if obj is not None else refusal, messages.ERROR)
        opts = self.model._meta
        return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id]))

    def delete_refusal(self, request, obj) -> str | None:
        """Why `obj` may not be deleted, whoever asks; None if it may (permissions aside)."""
        return None

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor_id": request.user.id})

    def save_model(self, request, obj, form, change):
        obj.pk = form.saved.id  # already written by the form through the service

    def save_related(self, request, form, formsets, change):
        pass  # the service wrote the relations too


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by their service or the event pipeline: the admin shows them, never adds,
    changes or deletes one (a subclass allows what it must, e.g. discarding a dead letter)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """The inline counterpart of ReadOnlyAdmin: its rows are shown, never added, changed or
    deleted here (every field read-only, no empty extra row)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or ()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
