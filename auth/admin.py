from django import forms
from django.contrib import admin, messages

from auth.core import oidc, services
from auth.interface import auth_service
from auth.interface.oidc import OidcClientInvalid
from auth.models import OidcClient, Passkey, Session, SigningKey
from gateway.people_admin import PeopleAdmin, person
from project.kernel.errors import DomainError
from project.service_admin import ReadOnlyAdmin, ServiceBackedAdmin


@admin.register(Session)
class SessionAdmin(PeopleAdmin, ReadOnlyAdmin):  # revoke instead: the row is the audit trail of the login
    list_display = ["id", "user", "created_at", "last_used_at", "ip", "revoked_at", "revoke_reason"]
    list_filter = ["revoke_reason", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["=id", "=user_id", "ip"]  # and the user by email or name (PeopleAdmin)
    ordering = ["-last_used_at"]
    people_fields = ("user_id",)
    user = person("user_id", "user")
    readonly_fields = ["user"]

    def get_fields(self, request, obj=None):
        return ["user", *(name for name in super().get_fields(request, obj) if name != "user")]

    actions = ["revoke"]

    @admin.action(description="Revoke selected sessions (their access tokens stop at once)", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for session in queryset.filter(revoked_at__isnull=True):
            services.logout(session_id=session.id)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} session(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm("gatehouse_auth.change_session")  # auth.session.manage


@admin.register(Passkey)
class PasskeyAdmin(PeopleAdmin, ServiceBackedAdmin):
    """Users' passkeys: public keys only, nothing secret. Staff remove one (a lost device, a flagged
    clone) through the auth service: the user is mailed, and an account's last way in stays."""

    list_display = ["name", "user", "created_at", "last_used_at", "flagged_at", "backed_up"]
    list_filter = [("flagged_at", admin.EmptyFieldListFilter), "backed_up"]
    search_fields = ["=id", "=user_id", "name"]  # and the user by email or name (PeopleAdmin)
    ordering = ["-created_at"]
    people_fields = ("user_id",)
    user = person("user_id", "user")
    fields = ["user", "name", "created_at", "last_used_at", "flagged_at", "sign_count", "backed_up", "aaguid"]
    readonly_fields = fields
    actions = ["remove"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # `remove` goes through the service
        return actions

    def delete_model(self, request, obj):
        auth_service.remove_passkey(user_id=obj.user_id, passkey_id=obj.id)

    @admin.action(description="Remove selected passkeys (their owners are mailed)", permissions=["delete"])
    def remove(self, request, queryset):
        removed, passkeys = 0, list(queryset)
        self.attach_people(passkeys)
        for passkey in passkeys:
            try:
                auth_service.remove_passkey(user_id=passkey.user_id, passkey_id=passkey.id)
                removed += 1
            except DomainError as exc:
                self.message_user(request, f"{passkey}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Removed {removed} passkey(s).", messages.SUCCESS)


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    """Metadata only: the private key is neither shown nor editable here."""

    list_display = ["kid", "algorithm", "created_at", "retired_at", "publish_until"]
    fields = ["kid", "algorithm", "public_jwk", "created_at", "retired_at", "publish_until"]
    readonly_fields = fields


class OidcClientForm(forms.ModelForm):
    redirect_uris_text = forms.CharField(
        label="Redirect URIs", widget=forms.Textarea(attrs={"rows": 3}), help_text="One per line; matched exactly."
    )
    post_logout_text = forms.CharField(
        label="Post-logout redirect URIs", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    grant_types_choice = forms.MultipleChoiceField(
        label="Grant types",
        choices=[(g, g) for g in oidc.GRANT_TYPES],
        initial=["authorization_code", "refresh_token"],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = OidcClient
        fields = ["name", "public", "first_party", "permissions_scope"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.created = oidc.create_client(
                name=data["name"],
                redirect_uris=data["redirect_uris_text"].split(),
                post_logout_redirect_uris=data.get("post_logout_text", "").split(),
                public=data["public"],
                first_party=data["first_party"],
                grant_types=data["grant_types_choice"],
                permissions_scope=data.get("permissions_scope", ""),
                created_by=self.actor_id,
            )
        except OidcClientInvalid as exc:
            raise forms.ValidationError([f"{k}: {v}" for k, v in exc.details.items()] or exc.message) from None
        return data


@admin.register(OidcClient)
class OidcClientAdmin(ServiceBackedAdmin):
    """Clients are registered here through the auth core service; the secret is shown once, after
    the add, and stored only as a keyed hash. A client is not edited: remove it and register anew."""

    list_display = ["name", "client_id", "public", "first_party", "created_at"]
    search_fields = ["name", "=client_id"]
    readonly_fields = ["client_id", "redirect_uris", "post_logout_redirect_uris", "grant_types", "created_at"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            form = OidcClientForm
            return type(form.__name__, (form,), {"actor_id": request.user.id})
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "name",
                "redirect_uris_text",
                "post_logout_text",
                "grant_types_choice",
                "public",
                "first_party",
                "permissions_scope",
            ]
        return [
            "name",
            "client_id",
            "public",
            "first_party",
            "redirect_uris",
            "post_logout_redirect_uris",
            "grant_types",
            "permissions_scope",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def save_related(self, request, form, formsets, change):
        pass

    def save_model(self, request, obj, form, change):
        client, secret = form.created
        obj.pk = client.pk
        obj.client_id = client.client_id
        if secret:
            self.message_user(
                request,
                f"Client {client.client_id} registered. Its secret, shown only now: {secret}",
                messages.WARNING,
            )

    def delete_model(self, request, obj):
        oidc.delete_client(client_id=obj.client_id)

    def delete_queryset(self, request, queryset):
        for client in queryset:
            oidc.delete_client(client_id=client.client_id)

    def has_change_permission(self, request, obj=None):
        return False
