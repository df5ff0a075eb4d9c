"""`manage.py rbac check|grant|revoke|export`: RBAC for operators (contract §7).

Everything goes through `permission_service` as the system (actor None): an operator with shell
access is trusted, and every change is still audited and announced.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from permissions.interface import permission_service
from project.kernel.errors import DomainError
from users.interface import UserNotFound, user_service


def _user_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        try:
            return user_service.get_by_email(email=value).id
        except UserNotFound:
            raise CommandError(f"no user {value!r}") from None


def _role_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        return permission_service.get_role_by_name(name=value).id


def _group_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        for group in permission_service.list_groups():
            if group.name == value:
                return group.id
        raise CommandError(f"no group {value!r}") from None


class Command(BaseCommand):
    help = "Check (with --explain), grant, revoke and export RBAC roles, groups and assignments."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        check = commands.add_parser("check", help="Does a user hold a permission (in a scope)?")
        check.add_argument("user", help="user id or email")
        check.add_argument("permission")
        check.add_argument("--scope")
        check.add_argument("--explain", action="store_true", help="say why")
        grant = commands.add_parser("grant", help="Assign a role to a user or a group.")
        grant.add_argument("role", help="role id or name")
        subject = grant.add_mutually_exclusive_group(required=True)
        subject.add_argument("--user", help="user id or email")
        subject.add_argument("--group", help="group id or name")
        grant.add_argument("--scope")
        grant.add_argument("--expires-at", help="RFC 3339 time with a zone")
        revoke = commands.add_parser("revoke", help="Remove an assignment.")
        revoke.add_argument("assignment_id", type=uuid.UUID)
        commands.add_parser("export", help="Roles, groups and assignments as JSON on stdout.")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.details or ''}".strip()) from None

    def _check(self, *, user, permission, scope, explain, **_):
        user_id = _user_id(user)
        if not explain:
            allowed = permission_service.check(user_id=user_id, permission=permission, scope=scope)
            self.stdout.write("allowed" if allowed else "denied")
            return
        why = permission_service.explain(user_id=user_id, permission=permission, scope=scope)
        self.stdout.write(f"{'allowed' if why.allowed else 'denied'} ({why.reason}): {why.message}")

    def _grant(self, *, role, user, group, scope, expires_at, **_):
        expiry = None
        if expires_at:
            try:
                expiry = datetime.fromisoformat(expires_at)
            except ValueError:
                raise CommandError("--expires-at must be an RFC 3339 time") from None
        assignment = permission_service.grant(
            actor_id=None,
            role_id=_role_id(role),
            user_id=_user_id(user) if user else None,
            group_id=_group_id(group) if group else None,
            scope=scope,
            expires_at=expiry,
        )
        self.stdout.write(str(assignment.id))

    def _revoke(self, *, assignment_id, **_):
        permission_service.revoke(actor_id=None, assignment_id=assignment_id)
        self.stdout.write(f"revoked {assignment_id}")

    def _export(self, **_):
        roles = permission_service.list_roles()
        names = {role.id: role.name for role in roles}
        groups = permission_service.list_groups()
        group_names = {group.id: group.name for group in groups}
        document = {
            "roles": [
                {
                    "name": role.name,
                    "description": role.description,
                    "permissions": [] if role.grants_all else list(role.permissions),
                    "parents": sorted(names[p] for p in role.parents),
                    **({"system": True} if role.is_system else {}),
                }
                for role in roles
            ],
            "groups": [
                {
                    "name": group.name,
                    "description": group.description,
                    "members": [str(u) for u in permission_service.group_members(group_id=group.id)],
                }
                for group in groups
            ],
            "assignments": [
                {
                    "id": str(a.id),
                    "role": a.role_name,
                    **({"user_id": str(a.user_id)} if a.user_id else {"group": group_names[a.group_id]}),
                    "scope": a.scope,
                    "expires_at": a.expires_at.isoformat() if a.expires_at else None,
                }
                for a in permission_service.list_assignments()
            ],
        }
        self.stdout.write(json.dumps(document, indent=2))
