from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import PasswordChangeView
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from auth.interface import auth_service, passkey_assertion
from gateway.permissions import user_escalation_check
from permissions.interface import EscalationDenied, all_assignments, permission_service
from project.kernel.errors import DomainError
from project.service_admin import ReadOnlyAdmin, ReadOnlyInline, ServiceBackedAdmin, ServiceBackedForm
from users.interface import user_service
from users.interface.orgs import ORG_ROLES, org_service
from users.models import Invitation, Organization, OrgDomain, User

EXPLAIN_PERMISSION = "rbac.check.any"  # the explain tool's (permissions.admin)

# The flags' meaning since RBAC (docs/rbac.md): staff may open the admin; what they see there is RBAC.
FLAG_HELP = {
    "is_staff": "May log in to the admin. What they see and do there comes from their RBAC roles.",
    "is_superuser": "Grants nothing by itself: access comes from RBAC roles (the admin role holds everything).",
}


class UserCreateForm(ServiceBackedForm):
    password = forms.CharField(
        widget=forms.PasswordInput, required=False, help_text="Leave empty for an account without password login."
    )

    class Meta:
        model = User
        fields = ["email", "display_name", "is_verified", "is_staff", "is_superuser"]
        help_texts = FLAG_HELP

    def write(self, data):
        return user_service.create_user(
            email=data["email"],
            password=data.get("password") or None,
            display_name=data.get("display_name", ""),
            is_verified=data.get("is_verified", False),
            is_staff=data.get("is_staff", False),
            is_superuser=data.get("is_superuser", False),
        )


class UserChangeForm(ServiceBackedForm):
    class Meta:
        model = User
        fields = ["email", "display_name", "is_verified", "is_staff", "is_superuser"]
        help_texts = FLAG_HELP

    def validate_unique(self):
        pass  # the service decides (case-insensitively) whether the email is taken

    def write(self, data):
        user_escalation_check(actor_id=self.actor_id, user_id=self.instance.id)
        saved = user_service.update_user(
            user_id=self.instance.id,
            email=data["email"],
            display_name=data.get("display_name", ""),
            is_verified=data.get("is_verified", False),
        )
        # Admin-only flags: is_staff opens the admin, is_superuser grants nothing (RBAC roles do).
        User.objects.filter(id=self.instance.id).update(is_staff=data["is_staff"], is_superuser=data["is_superuser"])
        return saved


@admin.register(User)
class UserAdmin(ServiceBackedAdmin):
    form = UserChangeForm
    add_form = UserCreateForm
    list_display = ["email", "display_name", "is_active", "is_verified", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_verified", "is_staff"]
    search_fields = ["email", "display_name"]
    ordering = ["-date_joined"]
    readonly_fields = ["id", "is_active", "date_joined", "updated_at", "last_login"]
    actions = ["deactivate"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["email", "password", "display_name", "is_verified", "is_staff", "is_superuser"]
        return ["id", "email", "display_name", "is_verified", "is_staff", "is_superuser", *self.readonly_fields[1:]]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        # What RBAC gives the user, read-only (changed on the RBAC pages), as far as the viewer may see.
        access = [
            name
            for name, perm in (
                ("rbac_roles", "permissions.view_assignment"),
                ("rbac_groups", "permissions.view_group"),
                ("rbac_permissions", EXPLAIN_PERMISSION),
            )
            if request.user.has_perm(perm)
        ]
        return [*fieldsets, ("Access (RBAC)", {"fields": access})] if access else fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "rbac_roles", "rbac_groups", "rbac_permissions"] if obj is not None else readonly

    @admin.display(description="Roles")
    def rbac_roles(self, obj):
        rows = [(assignment, "") for assignment in all_assignments(user_id=obj.id)]
        for group in permission_service.user_groups(user_id=obj.id):
            rows.extend(
                (assignment, f", through group {group.name}") for assignment in all_assignments(group_id=group.id)
            )
        if not rows:
            return "none"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> in {}{}{}</li>',
                (
                    (
                        reverse("admin:permissions_assignment_change", args=[a.id]),
                        a.role_name,
                        a.scope or "global",
                        f", until {a.expires_at:%Y-%m-%d %H:%M} UTC" if a.expires_at else "",
                        through,
                    )
                    for a, through in rows
                ),
            ),
        )

    @admin.display(description="Groups")
    def rbac_groups(self, obj):
        groups = permission_service.user_groups(user_id=obj.id)
        if not groups:
            return "none"
        links = ((reverse("admin:permissions_group_change", args=[g.id]), g.name) for g in groups)
        return format_html("<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a></li>', links))

    @admin.display(description="Effective permissions (global scope)")
    def rbac_permissions(self, obj):
        explain = reverse("admin:permissions_assignment_explain")
        codes = sorted(permission_service.effective_permissions(user_id=obj.id))
        links = ((f"{explain}?{urlencode({'email': obj.email, 'permission': code})}", code, code) for code in codes)
        return format_html(
            '<ul id="effective-permissions">{}</ul><p><a href="{}" id="explain-user">Explain a check for this user</a>'
            " (any permission, any scope)</p>",
            format_html_join("", '<li><a href="{}" title="Why {} is granted">{}</a></li>', links) or "none",
            f"{explain}?{urlencode({'email': obj.email})}",
        )

    def has_delete_permission(self, request, obj=None):
        return False  # users are deactivated, never deleted: their ids live on in other services

    @admin.action(description="Deactivate selected users (and revoke their sessions)")
    def deactivate(self, request, queryset):
        try:
            for user in queryset:
                user_escalation_check(actor_id=request.user.id, user_id=user.id)
        except EscalationDenied as exc:
            self.message_user(request, f"{exc.message} Nobody was deactivated.", messages.ERROR)
            return
        for user in queryset:
            user_service.deactivate_user(user_id=user.id)
            # At once, not only when the users.user_deactivated event is consumed.
            auth_service.revoke_all_sessions(user_id=user.id)
        self.message_user(request, f"Deactivated {queryset.count()} user(s).", messages.SUCCESS)


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form with the one-time code field TOTP users need."""

    otp = forms.CharField(
        label="One-time code", required=False, max_length=32, help_text="Only if two-factor authentication is on."
    )

    # A passkey's assertion as JSON, in place of the code: auth/static/oidc/passkey.js fills it.
    passkey = forms.CharField(required=False, max_length=65536, widget=forms.HiddenInput)

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = authenticate(
                self.request,
                username=username,
                password=password,
                otp=self.cleaned_data.get("otp"),
                passkey=passkey_assertion(self.cleaned_data.get("passkey")),
            )
            if self.user_cache is None:
                error = getattr(self.request, "gatehouse_login_error", None)
                if error is not None:
                    raise forms.ValidationError(error.message, code=error.code)
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


admin.site.login_form = AdminLoginForm
admin.site.login_template = "admin/gatehouse_login.html"


class ServicePasswordChangeForm(PasswordChangeForm):
    """Django's admin password change, written by the auth service's one password change (the
    API's): its lockout, session revocation, `auth.password_changed` event and notice apply."""

    def clean_old_password(self):
        return self.cleaned_data["old_password"]  # the auth service checks it (and counts failures)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            auth_service.change_password(
                user_id=self.user.id,
                session_id=None,  # an admin session is no API session: every API session ends
                old_password=data["old_password"],
                new_password=data["new_password1"],
            )
        except DomainError as exc:
            if "old_password" in exc.details:
                self.add_error("old_password", exc.details["old_password"])
            elif "new_password" in exc.details:
                self.add_error("new_password2", exc.details["new_password"])
            else:
                raise forms.ValidationError(exc.message, code=exc.code) from exc
        return data

    def save(self, commit=True):
        # Already written by the service; reloaded so the admin session keeps its new auth hash.
        self.user.refresh_from_db()
        return self.user


def password_change(request, extra_context=None):
    """AdminSite.password_change with the service-backed form (Django's writes the hash itself)."""
    request.current_app = admin.site.name
    return PasswordChangeView.as_view(
        form_class=ServicePasswordChangeForm,
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context={**admin.site.each_context(request), **(extra_context or {})},
    )(request)


admin.site.password_change = password_change


# --- Organizations (docs/orgs.md) ----------------------------------------------------------------


class OrganizationCreateForm(ServiceBackedForm):
    owner_email = forms.EmailField(help_text="The org's first owner: a verified user.")

    class Meta:
        model = Organization
        fields = ["name", "slug"]

    field_aliases = {"actor_id": "owner_email"}

    def validate_unique(self):
        pass  # the service decides (case-insensitively) whether the slug is taken

    def write(self, data):
        try:
            owner = user_service.get_user_by_email(email=data["owner_email"])
        except DomainError:
            raise forms.ValidationError({"owner_email": "No user with this email."}) from None
        return org_service.create_org(actor_id=owner.id, name=data["name"], slug=data["slug"])


class OrganizationChangeForm(ServiceBackedForm):
    add_member_email = forms.EmailField(required=False, label="Add a member (email)")
    confirm_domain = forms.CharField(
        required=False,
        max_length=1000,
        label="Mark a domain verified",
        help_text="The operator's word for it, without DNS (added if need be). Refused if another org verified it.",
    )
    add_member_role = forms.ChoiceField(choices=[(r, r) for r in ORG_ROLES], initial="member", required=False)

    class Meta:
        model = Organization
        fields = ["name", "require_mfa", "domain_join"]
        help_texts = {
            "require_mfa": (
                "Policy: people without TOTP are refused this org's API routes (403 mfa_required) but for "
                "reading the org and leaving it, and RBAC writes in its scope. Not checked by permission "
                "checks or this admin (docs/orgs.md)."
            )
        }

    field_aliases = {"user_id": "add_member_email", "role": "add_member_role"}

    def write(self, data):
        org = org_service.update_org(
            actor_id=self.actor_id,
            org_id=self.instance.id,
            name=data["name"],
            require_mfa=data["require_mfa"],
            domain_join=data["domain_join"],
        )
        if data.get("confirm_domain"):
            try:
                org_service.confirm_domain(org_id=org.id, domain=data["confirm_domain"])
            except DomainError as exc:
                raise forms.ValidationError({"confirm_domain": exc.message}) from None
        if data.get("add_member_email"):
            try:
                user = user_service.get_user_by_email(email=data["add_member_email"])
            except DomainError:
                raise forms.ValidationError({"add_member_email": "No user with this email."}) from None
            org_service.add_member(
                actor_id=self.actor_id, org_id=org.id, user_id=user.id, role=data.get("add_member_role") or "member"
            )
        return org


class InvitationInline(ReadOnlyInline):
    model = Invitation
    fields = ["email", "role", "status", "created_at", "expires_at", "sent_count", "invited_by"]
    show_change_link = True
    ordering = ["-created_at"]


class OrgDomainInline(ReadOnlyInline):
    """Read-only: owners add and verify domains through the API; operators confirm one with the
    form's "Mark a domain verified" or `manage.py org verify-domain`."""

    model = OrgDomain
    fields = ["domain", "verified_at", "verified_by", "created_at", "created_by"]
    ordering = ["-created_at"]


@admin.register(Organization)
class OrganizationAdmin(ServiceBackedAdmin):
    form = OrganizationChangeForm
    add_form = OrganizationCreateForm
    list_display = ["name", "slug", "require_mfa", "created_at"]
    list_filter = ["require_mfa"]
    search_fields = ["name", "slug"]
    ordering = ["-created_at"]
    inlines = [InvitationInline, OrgDomainInline]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "slug", "owner_email"]
        return [
            "id",
            "slug",
            "name",
            "require_mfa",
            "domain_join",
            "confirm_domain",
            "members",
            "add_member_email",
            "add_member_role",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["id", "slug", "members", "created_at"]

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    @admin.display(description="Members (newest first, the first 200)")
    def members(self, obj):
        page = org_service.list_members(actor_id=None, org_id=obj.id, limit=200)
        if not page.results:
            return "-"
        return format_html(
            '<table id="org-members"><tr><th>email</th><th>name</th><th>role</th><th>joined</th></tr>{}</table>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((m.email, m.display_name, m.role, m.joined_at.isoformat()) for m in page.results),
            ),
        )

    def save_related(self, request, form, formsets, change):
        # The invitations inline is read-only: saving it writes nothing, but Django's change
        # message reads what each formset saved.
        for formset in formsets:
            formset.save()

    def delete_model(self, request, obj):
        org_service.delete_org(actor_id=request.user.id, org_id=obj.id)

    def delete_queryset(self, request, queryset):
        for org in queryset:
            org_service.delete_org(actor_id=request.user.id, org_id=org.id)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "org", "role", "status", "created_at", "expires_at", "sent_count"]
    list_filter = ["role"]
    search_fields = ["email", "org__name", "org__slug"]
    ordering = ["-created_at"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected pending invitations", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for invitation in queryset:
            if invitation.status != "pending":
                continue
            org_service.revoke_invitation(
                actor_id=request.user.id, org_id=invitation.org_id, invitation_id=invitation.id
            )
            revoked += 1
        self.message_user(request, f"{revoked} invitation(s) revoked.", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm("users.change_invitation")
