from django.contrib import admin, messages

from auth.core import services
from auth.models import Session, SigningKey


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user_id", "created_at", "last_used_at", "ip", "revoked_at", "revoke_reason"]
    list_filter = ["revoke_reason", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["=id", "=user_id", "ip"]
    ordering = ["-last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row is the audit trail of the login

    @admin.action(description="Revoke selected sessions (their access tokens stop at once)", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for session in queryset.filter(revoked_at__isnull=True):
            services.logout(session_id=session.id)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} session(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm("gatehouse_auth.change_session")  # auth.session.manage


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Metadata only: the private key is neither shown nor editable here."""

    list_display = ["kid", "algorithm", "created_at", "retired_at", "publish_until"]
    fields = ["kid", "algorithm", "public_jwk", "created_at", "retired_at", "publish_until"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
