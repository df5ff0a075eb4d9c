from django import forms
from django.contrib import admin, messages

from users.interface.orgs import OrgNotFound, org_service

from .models import ScimToken
from .tokens import token_revoke, token_save_new


class ScimTokenForm(forms.ModelForm):
    class Meta:
        model = ScimToken
        fields = ["name", "org_id"]

    def clean_org_id(self):
        org_id = self.cleaned_data.get("org_id")
        if org_id is not None:
            try:
                org_service.get_org(actor_id=None, org_id=org_id)
            except OrgNotFound:
                raise forms.ValidationError("No organization has this id.") from None
        return org_id


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    """Tokens are made here or by `manage.py scim_token create`; the secret is shown once."""

    form = ScimTokenForm
    list_display = ["name", "prefix", "org_id", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("org_id", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "org_id", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        # The organization is chosen once, at creation: a token never changes what it reaches.
        return ["name", "org_id"] if obj is None else ["name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        secret = token_save_new(obj)
        messages.warning(request, f"The SCIM token, shown this once: {secret}")

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the list keeps who had access

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            token_revoke(token=token)
        messages.success(request, f"Revoked {queryset.count()} token(s).")
