import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import _user_has_module_perms, _user_has_perm
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    # Writes go through users.core.services; this manager only serves lookups Django itself makes.
    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Stored lower-cased by the service, so a plain unique index is case-insensitive uniqueness.
    email = models.EmailField(max_length=254, unique=True)
    display_name = models.CharField(max_length=150, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_verified = models.BooleanField(default=False)
    # A new address asked for, not yet proven: it becomes `email` only when a link mailed to it is
    # followed (issue 15, item 1). Empty when no change is pending.
    pending_email = models.EmailField(max_length=254, blank=True, default="")
    is_staff = models.BooleanField(default=False, help_text="May log in to the Django admin.")
    is_superuser = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        indexes = [models.Index(fields=["-date_joined", "-id"], name="users_user_joined_idx")]

    def __str__(self):
        return self.email

    # Django's permission API, answered by the AUTHENTICATION_BACKENDS (RBAC's among them: see
    # docs/rbac.md). Unlike PermissionsMixin, `is_superuser` adds nothing: the `admin` role does.
    def has_perm(self, perm, obj=None):
        return _user_has_perm(self, perm, obj)

    def has_perms(self, perm_list, obj=None):
        return all(self.has_perm(p, obj) for p in perm_list)

    def has_module_perms(self, app_label):
        return _user_has_module_perms(self, app_label)


class Organization(models.Model):
    """A tenant (docs/orgs.md). Its members are RBAC assignments of the org roles in scope
    `org:<id>`, held by the permissions service: no membership table here."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=150)
    # Stored lower-cased by the service: a plain unique index is case-insensitive uniqueness.
    slug = models.SlugField(max_length=50, unique=True)
    # Policy, enforced on the org's API routes by the app services (gateway.orgs, docs/orgs.md).
    require_mfa = models.BooleanField(default=False)
    # Who may join by the verified domain of their verified email: off, allow or auto (docs/orgs.md).
    domain_join = models.CharField(
        max_length=5, choices=[("off", "off"), ("allow", "allow"), ("auto", "auto")], default="off"
    )
    created_by = models.UUIDField(null=True, blank=True)  # a users row; None: made by the system
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at", "-id"], name="users_org_created_idx")]

    def __str__(self):
        return f"{self.name} ({self.slug})"

    @property
    def rbac_scope(self) -> str:
        return f"org:{self.id}"


class Invitation(models.Model):
    """An invitation to join an org with a role, by email. Only the token's digest is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=[("owner", "owner"), ("admin", "admin"), ("member", "member")])
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_count = models.PositiveIntegerField(default=1)
    last_sent_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.UUIDField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["org", "-created_at", "-id"], name="users_invitation_org_idx"),
            models.Index(fields=["email"], name="users_invitation_email_idx"),
        ]

    def __str__(self):
        return f"{self.email} to {self.org_id} as {self.role}"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class OrgDomain(models.Model):
    """A domain an org claims, proven by a DNS TXT record (or an operator's word). A domain is
    verified by at most one org (the partial unique constraint); several may claim it pending."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    # A-labels, lower case, no trailing dot (project.domains.domain_name).
    domain = models.CharField(max_length=253)
    token_hash = models.CharField(max_length=64)  # sha256 of the challenge token; the token is shown once
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.CharField(
        max_length=10, blank=True, default="", choices=[("", "-"), ("dns", "dns"), ("operator", "operator")]
    )
    created_by = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "domain"], name="users_orgdomain_org_domain_uniq"),
            models.UniqueConstraint(
                fields=["domain"], condition=models.Q(verified_at__isnull=False), name="users_orgdomain_verified_uniq"
            ),
        ]
        indexes = [models.Index(fields=["domain"], name="users_orgdomain_domain_idx")]

    def __str__(self):
        return self.domain

    @property
    def record(self) -> str:
        return f"_gatehouse-challenge.{self.domain}"
