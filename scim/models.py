"""The SCIM app service's own tables (docs/scim.md): its tokens, and what identity providers say
about users and groups beyond what the users and permissions services keep. Users and groups are
referred to by UUID only: they live in those services."""

import uuid

from django.db import models


class ScimToken(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, help_text="Who uses it, e.g. “Okta production”.")
    # None: a global token (every user and RBAC group). An organization's id: that organization's
    # members and roles only (docs/scim.md, "Organization tokens"). The org lives in the users
    # service: referred to by id.
    org_id = models.UUIDField(
        null=True,
        blank=True,
        db_index=True,
        verbose_name="organization id",
        help_text="Leave empty for a global token; an organization's id limits the token to it.",
    )
    # The first characters of the token, to recognise it in a list; the token itself is never stored.
    prefix = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)  # sha256 hex of the token
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "SCIM token"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class ScimUser(models.Model):
    """A Gatehouse user as an identity provider provisioned it."""

    user_id = models.UUIDField(primary_key=True)
    external_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # The SCIM attributes Gatehouse has no column for (name, emails, phone numbers…), as last
    # written; userName, displayName and active always come from the users service.
    attributes = models.JSONField(default=dict)
    # DELETE /Users/{id}: the user is deactivated (users are never erased) and gone for SCIM.
    deleted = models.BooleanField(default=False)
    # The organization whose token created the account (None: a global token, or not created
    # through SCIM). Only such an account, with no grant outside that org, is the org token's to
    # change or deactivate (docs/scim.md, "Organization tokens").
    org_id = models.UUIDField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"SCIM user {self.user_id}"


class ScimGroup(models.Model):
    """An RBAC group as an identity provider provisioned it."""

    group_id = models.UUIDField(primary_key=True)
    external_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # members[].display as the identity provider wrote it, by user id.
    member_displays = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"SCIM group {self.group_id}"


class ScimWriteLease(models.Model):
    """One SCIM write per resource at a time (scim/leases.py). A PUT, PATCH or DELETE reads the
    resource, checks its ETag, applies the change and writes it back through other services'
    interfaces, with no transaction that could span them: the lease makes that whole
    read-check-write one step, so two PATCHes of a group's members cannot drop each other's change
    and an `If-Match` holds for the write it guards. A holder that dies leaves a lease that
    expires."""

    resource_id = models.UUIDField(primary_key=True)
    holder = models.UUIDField()
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"SCIM write lease on {self.resource_id}"
