import uuid

from django.db import models
from django.db.models import Q


class Permission(models.Model):
    """A declared permission code; rows follow the in-code registry on every migrate."""

    code = models.CharField(max_length=150, primary_key=True)
    description = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Role(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True, default="")
    is_system = models.BooleanField(default=False)
    # Holds every permission, also those declared later, without listing them (the admin role).
    grants_all = models.BooleanField(default=False)
    permissions = models.ManyToManyField(Permission, related_name="roles", blank=True)
    parents = models.ManyToManyField("self", symmetrical=False, related_name="children", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Group(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class GroupMembership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user_id = models.UUIDField()  # a users row: another service's, referred to by id only
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user_id"], name="permissions_membership_unique")]
        indexes = [models.Index(fields=["user_id"], name="permissions_membership_user")]

    def __str__(self):
        return f"{self.user_id} in {self.group_id}"


class Assignment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")
    user_id = models.UUIDField(null=True, blank=True)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, null=True, blank=True, related_name="assignments")
    # '' is the global scope, so that "scope IN (prefixes)" finds global assignments too.
    scope = models.CharField(max_length=500, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user_id__isnull=False) & Q(group__isnull=True))
                | (Q(user_id__isnull=True) & Q(group__isnull=False)),
                name="permissions_assignment_one_subject",
            )
        ]
        indexes = [
            models.Index(fields=["user_id"], name="permissions_assignment_user"),
            models.Index(fields=["role", "scope"], name="permissions_assignment_role"),
            models.Index(fields=["-created_at", "-id"], name="permissions_assignment_order"),
            # An org's member list (docs/orgs.md): the assignments in one scope, newest first,
            # keyset-paged; also the revoke of everything in a scope.
            models.Index(fields=["scope", "-created_at", "-id"], name="permissions_assignment_scope"),
        ]

    def __str__(self):
        # `people`: the admin's labels of user ids (gateway/people_admin.py); alone, the id.
        who = self.group.name if self.group_id else getattr(self, "people", {}).get("user_id") or self.user_id
        return f"{self.role.name} to {who} in {self.scope or 'global'}"


class DeactivatedUser(models.Model):
    """Users the users service deactivated (from `users.user_deactivated`): every check denies."""

    user_id = models.UUIDField(primary_key=True)
    deactivated_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return str(self.user_id)


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("the RBAC audit log is append-only")

    def delete(self):
        raise TypeError("the RBAC audit log is append-only")


class PendingInvalidation(models.Model):
    """A revoke made while the shared cache did not answer (issue 14, item 2): the version tokens it
    could not replace. Applied (the tokens replaced, the row deleted) by the writer's retry, by the
    consumer of `rbac.cache_invalidation_pending`, and by any process's next read that reaches the
    cache without a current copy of the tokens (docs/rbac.md, "Revokes during a cache outage")."""

    user_ids = models.JSONField(default=list)
    everyone = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"pending invalidation {self.pk}"


class AuditEntry(models.Model):
    """Append-only: one row per RBAC change, written in the change's transaction."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_id = models.UUIDField(null=True, blank=True)
    # With no user actor: the named service that made the change over gRPC (x-gatehouse-caller);
    # empty for Gatehouse itself in process (a migration, an event handler, manage.py).
    actor_service = models.CharField(max_length=100, blank=True, default="")
    action = models.CharField(max_length=50)
    target_type = models.CharField(max_length=30)
    target_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["-occurred_at", "-id"], name="permissions_audit_order")]

    def __str__(self):
        return f"{self.action} {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("the RBAC audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("the RBAC audit log is append-only")
