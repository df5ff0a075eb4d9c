"""The permission codes of docs/auth.md, docs/rbac.md and docs/notifications.md, declared on behalf of their owning apps, and
those of the shared events package, which may not import a service.

Declared here, listed per owning app, so that every code the gateway checks exists from the
first `migrate` on, whatever the order of the apps in INSTALLED_APPS. An app may later declare
its own in its `ready()` with `permissions.interface.declare_permissions`; a code declared twice
keeps the last description, so moving a block out of here changes nothing in the database.
"""

from __future__ import annotations

from permissions.interface import declare_permissions

CONTRACT_PERMISSIONS: dict[str, dict[str, str]] = {
    "users": {
        "users.user.view": "See users: list and read profiles.",
        "users.user.manage": "Change and deactivate users.",
    },
    # Organizations (docs/orgs.md), held in scope org:<id> through the org roles.
    "orgs": {
        "orgs.org.view": "See an organization (its members see it).",
        "orgs.org.manage": "Change an organization's name and policy.",
        "orgs.org.delete": "Delete an organization.",
        "orgs.member.view": "List an organization's members.",
        "orgs.member.manage": "Change members' roles, remove members, grant custom roles in the organization.",
        "orgs.invitation.manage": "Invite people to an organization; list, resend and revoke invitations.",
        "orgs.owner.manage": "Make and unmake owners of an organization.",
        "orgs.notification.send": "Send notifications to an organization's members.",
        "orgs.domain.manage": "Add, verify and remove an organization's domains.",
    },
    "rbac": {
        "rbac.role.view": "See the permission registry and the roles.",
        "rbac.role.manage": "Create, change and delete roles.",
        "rbac.group.manage": "Create and delete groups, change their members.",
        "rbac.assignment.manage": "Grant and revoke roles.",
        "rbac.check.any": "Check and explain the permissions of any user.",
        "rbac.audit.view": "Read the RBAC audit log.",
    },
    "notifications": {
        "notifications.notification.send": "Send notifications and follow their deliveries.",
    },
}

# The admin's view of the event pipeline (project.events: the outbox, the inbox, dead letters).
# Declared here on the events package's behalf: shared infrastructure imports no service
# (pyproject.toml, `infrastructure-imports-no-service`); permissions.backends maps its codenames.
EVENTS_PERMISSIONS: dict[str, str] = {
    "events.event.view": "See the outbox, the inbox and dead letters in the admin.",
    "events.deadletter.manage": "Replay and discard dead letters from the admin.",
}


def declare_contract_permissions() -> None:
    for app, codes in CONTRACT_PERMISSIONS.items():
        declare_permissions(app, codes)
    declare_permissions("events", EVENTS_PERMISSIONS)
