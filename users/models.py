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
