"""`manage.py rbac sync|check|grant|revoke|export`: RBAC for operators (docs/operations.md, Commands).

Everything goes through `permission_service` as the system (actor None): an operator with shell
access is trusted, and every change is still audited and announced.
"""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from permissions.core.services import DESCRIPTION_MAX, NAME_MAX, one_transaction
from permissions.interface import (
    ADMIN_ROLE,
    SERVICE_NAME,
    InvalidScope,
    all_assignments,
    normalise_scope,
    permission_service,
)
from project.kernel.errors import DomainError
from users.interface import UserNotFound, user_service


def _user_id(value: str) -> uuid.UUID:
    """The id of the user `value` (an id or an email) names; an unknown id is as unknown as an
    unknown email."""
    try:
        user_id = uuid.UUID(value)
    except ValueError:
        find = functools.partial(user_service.get_user_by_email, email=value)
    else:
        find = functools.partial(user_service.get_user, user_id=user_id)
    try:
        return find().id
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
    help = (
        "Sync from a file (--dry-run), check (--explain), grant, revoke and export RBAC roles, groups and assignments."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        check = commands.add_parser(
            "check", help="Does a user hold a permission (in a scope)? Exit status 0 allowed, 1 denied, 2 an error."
        )
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
        sync = commands.add_parser(
            "sync", help="Make roles, groups and assignments what a JSON file (export's format) says."
        )
        sync.add_argument("file", help="a JSON file in the format of `rbac export`; - for stdin")
        sync.add_argument("--dry-run", action="store_true", help="print the changes, make none")
        sync.add_argument(
            "--prune",
            action="store_true",
            help="also delete roles and groups and revoke assignments the file does not name "
            "(the file must then name all of roles, groups and assignments)",
        )
        sync.add_argument(
            "--allow-removing-admins",
            action="store_true",
            help="let --prune revoke every assignment of a system role, or the last global one of admin",
        )

    def handle(self, *args, action, **options):
        try:
            try:
                getattr(self, f"_{action}")(**options)
            except DomainError as exc:
                raise CommandError(f"{exc.code}: {exc.message} {exc.details or ''}".strip()) from None
        except CommandError as exc:
            if action == "check":
                exc.returncode = 2  # 1 is check's answer "denied"
            raise

    def _check(self, *, user, permission, scope, explain, **_):
        """Exit status 0 allowed, 1 denied, 2 a usage error (unknown user or permission, bad
        scope), so that scripts can branch on it."""
        user_id = _user_id(user)
        if permission not in {p.code for p in permission_service.list_permissions()}:
            raise CommandError(
                f"unknown permission {permission!r} (`rbac export` and /api/v1/rbac/permissions list them)"
            )
        if not explain:
            allowed = permission_service.check(user_id=user_id, permission=permission, scope=scope)
            self.stdout.write("allowed" if allowed else "denied")
        else:
            why = permission_service.explain(user_id=user_id, permission=permission, scope=scope)
            allowed = why.allowed
            self.stdout.write(f"{'allowed' if allowed else 'denied'} ({why.reason}): {why.message}")
        if not allowed:
            raise SystemExit(1)

    def _grant(self, *, role, user, group, scope, expires_at, **_):
        expiry = None
        if expires_at:
            try:
                expiry = datetime.fromisoformat(expires_at)
            except ValueError:
                raise CommandError("--expires-at must be an RFC 3339 time") from None
        assignment = permission_service.grant_role(
            actor_id=None,
            role_id=_role_id(role),
            user_id=_user_id(user) if user else None,
            group_id=_group_id(group) if group else None,
            scope=scope,
            expires_at=expiry,
        )
        self.stdout.write(str(assignment.id))

    def _revoke(self, *, assignment_id, **_):
        permission_service.revoke_assignment(actor_id=None, assignment_id=assignment_id)
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
                for a in all_assignments()
            ],
        }
        self.stdout.write(json.dumps(document, indent=2))

    def _sync(self, *, file, dry_run, prune, allow_removing_admins, **_):
        try:
            with open(file) if file != "-" else self._stdin() as source:
                document = json.load(source)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        # The same validation for a dry run and a real one, over the whole file, before anything
        # is planned: a typo must never read as "this file wants nothing".
        problems = validate(document, prune=prune)
        if problems:
            raise CommandError(f"{file} is not a valid RBAC file; nothing changed:\n  " + "\n  ".join(problems))
        steps = plan(document, prune=prune)
        if prune and not allow_removing_admins:
            removed = admins_removed(document)
            if removed:
                raise CommandError(
                    f"--prune refused, nothing changed: {'; '.join(removed)}. "
                    "Name them in the file, or pass --allow-removing-admins."
                )
        for description, _ in steps:
            self.stdout.write(description[:2] + ("would " if dry_run else "") + description[2:])
        if not dry_run and steps:
            self._apply(steps)
        self.stdout.write(f"{len(steps)} change(s){' planned' if dry_run else ''}")

    @staticmethod
    def _apply(steps) -> None:
        """The whole plan in one transaction of the permissions database, or none of it: a step
        that fails (a cycle of parents, a concurrent change) rolls back the steps before it."""
        if settings.GATEHOUSE_GRPC_TARGETS[SERVICE_NAME]:
            raise CommandError(
                "rbac sync applies its plan in one transaction, so it runs where the permissions "
                "service runs (this process calls it over gRPC); nothing changed"
            )
        with one_transaction():
            for _, apply in steps:
                apply()

    @staticmethod
    def _stdin():
        import sys

        return sys.stdin


def _expiry(value):
    return datetime.fromisoformat(value) if value else None


_KEYS = {
    "": {"roles", "groups", "assignments"},
    "roles": {"name", "description", "permissions", "parents", "system"},
    "groups": {"name", "description", "members"},
    "assignments": {"id", "role", "user_id", "group", "scope", "expires_at"},
}


def validate(document, *, prune: bool) -> list[str]:
    """Every problem of an RBAC file (export's format), each with where it is; [] when none."""
    if not isinstance(document, dict):
        return ["the file must hold a JSON object with roles, groups and assignments"]
    problems = [f"unknown key {key!r} (expected {sorted(_KEYS[''])})" for key in document if key not in _KEYS[""]]
    if prune:
        problems += [
            f"--prune needs {key!r}: a file that does not name them would remove every one"
            for key in sorted(_KEYS[""] - document.keys())
        ]
    sections = {}
    for section in sorted(_KEYS[""]):
        entries = document.get(section, [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            problems.append(f"{section} must be a list of objects")
            entries = []
        sections[section] = entries
        for n, entry in enumerate(entries):
            problems += [f"{section}[{n}]: unknown key {key!r}" for key in entry if key not in _KEYS[section]]

    known_permissions = {p.code for p in permission_service.list_permissions()}
    existing_roles = permission_service.list_roles()
    role_names = {role.name for role in existing_roles}
    group_names = {group.name for group in permission_service.list_groups()}
    # Only strings can name anything: a list or an object where a name goes is reported, not hashed.
    file_roles = {e.get("name") for e in sections["roles"] if isinstance(e.get("name"), str)}
    file_groups = {e.get("name") for e in sections["groups"] if isinstance(e.get("name"), str)}
    system_roles = {role.name for role in existing_roles if role.is_system}
    for n, entry in enumerate(sections["roles"]):
        where = f"roles[{n}] ({entry.get('name')!r})"
        problems += [f"{where}: {p}" for p in _text_problems(entry, NAME_MAX, "name")]
        problems += [f"{where}: {p}" for p in _text_problems(entry, DESCRIPTION_MAX, "description", required=False)]
        if not isinstance(entry.get("system", False), bool):
            problems.append(f"{where}: system must be true or false")
        is_system = isinstance(entry.get("name"), str) and entry["name"] in system_roles
        if is_system and not entry.get("system"):
            problems.append(f"{where}: a system role cannot be changed; keep its entry as export writes it")
        elif entry.get("system") and not is_system:
            problems.append(f"{where}: not a system role (system roles are made by migrations, not by files)")
        for field in ("permissions", "parents"):
            if not isinstance(entry.get(field, []), list) or not all(isinstance(v, str) for v in entry.get(field, [])):
                problems.append(f"{where}: {field} must be a list of strings")
                entry = {**entry, field: []}
        if not entry.get("system"):
            unknown = sorted(str(p) for p in entry.get("permissions", []) if p not in known_permissions)
            if unknown:
                problems.append(f"{where}: unknown permission(s) {unknown}")
        missing = sorted(str(p) for p in entry.get("parents", []) if p not in file_roles | role_names)
        if missing:
            problems.append(f"{where}: unknown parent role(s) {missing}")
    problems += _cycles(sections["roles"], existing_roles)
    for n, entry in enumerate(sections["groups"]):
        problems += [f"groups[{n}]: {p}" for p in _text_problems(entry, NAME_MAX, "name")]
        problems += [f"groups[{n}]: {p}" for p in _text_problems(entry, DESCRIPTION_MAX, "description", required=False)]
        members = entry.get("members", [])
        if not isinstance(members, list):
            problems.append(f"groups[{n}]: members must be a list")
            continue
        problems += [f"groups[{n}] ({entry.get('name')!r}): {p}" for p in filter(None, map(_user_problem, members))]
    for n, entry in enumerate(sections["assignments"]):
        where = f"assignments[{n}]"
        if not isinstance(entry.get("role"), str) or entry["role"] not in file_roles | role_names:
            problems.append(f"{where}: unknown role {entry.get('role')!r}")
        if bool(entry.get("user_id")) == bool(entry.get("group")):
            problems.append(f"{where}: exactly one of user_id and group is required")
        elif entry.get("user_id"):
            problem = _user_problem(entry["user_id"])
            if problem:
                problems.append(f"{where}: {problem}")
        elif not isinstance(entry["group"], str) or entry["group"] not in file_groups | group_names:
            problems.append(f"{where}: unknown group {entry['group']!r}")
        try:
            if not isinstance(entry.get("scope"), str | None):
                raise InvalidScope()
            normalise_scope(entry.get("scope"))
        except InvalidScope:
            problems.append(
                f"{where}: invalid scope {entry.get('scope')!r} (type:id segments, e.g. org:acme/project:42)"
            )
        expires_at = entry.get("expires_at")
        try:
            expiry = _expiry(str(expires_at)) if expires_at is not None else None
            if expiry is not None and expiry.tzinfo is None:
                problems.append(f"{where}: expires_at {expires_at!r} has no time zone")
            elif expiry is not None and expiry <= timezone.now():
                problems.append(f"{where}: expires_at {expires_at!r} is in the past")
        except ValueError:
            problems.append(f"{where}: expires_at {expires_at!r} is not an RFC 3339 time")
    return problems


def _text_problems(entry: dict, limit: int, field: str, *, required: bool = True) -> list[str]:
    value = entry.get(field, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        return [f"a {field} (a string) is required" if required else f"{field} must be a string"]
    if len(value.strip()) > limit:
        return [f"{field} is longer than {limit} characters"]
    if field == "name" and any(ord(ch) < 32 for ch in value):
        return ["name contains control characters"]
    return []


def _cycles(entries: list[dict], existing_roles) -> list[str]:
    """Roles that would be their own ancestors once the file's parents replace the current ones."""
    names = {role.id: role.name for role in existing_roles}
    parents = {role.name: {names[p] for p in role.parents} for role in existing_roles}
    parents |= {
        e["name"]: {p for p in e.get("parents", []) if isinstance(p, str)}
        for e in entries
        if isinstance(e.get("name"), str) and not e.get("system") and isinstance(e.get("parents", []), list)
    }
    problems = []
    for name in sorted(parents):
        seen, todo = set(), list(parents[name])
        while todo:
            parent = todo.pop()
            if parent == name:
                problems.append(f"roles ({name!r}): its parents lead back to it (a cycle)")
                break
            if parent not in seen:
                seen.add(parent)
                todo.extend(parents.get(parent, ()))
    return problems


def _user_problem(value) -> str | None:
    """Why `value` (a user id or an email) names no user, or None. (A deactivated user may stay
    where they are, as export writes them; `plan` refuses to add one anywhere.)"""
    if not isinstance(value, str):
        return f"not a user id or email: {value!r}"
    try:
        user_id = uuid.UUID(value)
    except ValueError:
        find = functools.partial(user_service.get_user_by_email, email=value)
    else:
        find = functools.partial(user_service.get_user, user_id=user_id)
    try:
        find()
    except UserNotFound:
        return f"no user {value!r}"
    return None


def admins_removed(document: dict) -> list[str]:
    """What pruning to the file's assignments would take away from the system roles: every
    assignment of one, or the last global (unscoped) assignment of `admin`."""
    system = {role.name for role in permission_service.list_roles() if role.is_system}
    held = all_assignments()
    kept = document.get("assignments", [])
    emptied = sorted({a.role_name for a in held} & system - {entry.get("role") for entry in kept})
    problems = [f"every assignment of the system role {name!r} would be revoked" for name in emptied]
    held_globally = any(a.role_name == ADMIN_ROLE and a.scope is None for a in held)
    kept_globally = any(entry.get("role") == ADMIN_ROLE and not entry.get("scope") for entry in kept)
    if ADMIN_ROLE not in emptied and held_globally and not kept_globally:
        problems.append(f"the last global assignment of {ADMIN_ROLE!r} would be revoked")
    return problems


def plan(document: dict, *, prune: bool) -> list[tuple[str, object]]:
    """The changes that make the database say what `document` says, in an order that works:
    roles first (parents once every role exists), then groups and members, then assignments.
    Each description starts as a diff line does: `+` adds, `~` changes, `-` removes."""
    steps: list[tuple[str, object]] = []
    added_users: list[tuple[uuid.UUID, str]] = []  # (user, what the plan gives them)
    roles = {role.name: role for role in permission_service.list_roles()}
    wanted_roles = {entry["name"]: entry for entry in document.get("roles", []) if not entry.get("system")}
    ids: dict[str, uuid.UUID | None] = {name: role.id for name, role in roles.items()}

    def role_id(name: str) -> uuid.UUID:
        return ids[name] if ids.get(name) else permission_service.get_role_by_name(name=name).id

    for name, entry in wanted_roles.items():
        permissions = sorted(entry.get("permissions", []))
        if name not in roles:
            ids[name] = None

            def create(name=name, entry=entry, permissions=permissions):
                ids[name] = permission_service.create_role(
                    actor_id=None, name=name, description=entry.get("description", ""), permissions=permissions
                ).id

            steps.append((f"+ create role {name}", create))
        elif (roles[name].description, list(roles[name].permissions)) != (entry.get("description", ""), permissions):

            def update(name=name, entry=entry, permissions=permissions):
                permission_service.update_role(
                    actor_id=None,
                    role_id=role_id(name),
                    description=entry.get("description", ""),
                    permissions=permissions,
                )

            before = set(roles[name].permissions)
            changes = [f"+{code}" for code in permissions if code not in before]
            changes += [f"-{code}" for code in sorted(before - set(permissions))]
            what = [f"permissions {' '.join(changes)}"] if changes else []
            if roles[name].description != entry.get("description", ""):
                what.append(f"description {entry.get('description', '')!r}")
            steps.append((f"~ update role {name}: {', '.join(what)}", update))
    names = {role.id: role.name for role in roles.values()}
    for name, entry in wanted_roles.items():
        parents = sorted(entry.get("parents", []))
        current = sorted(names[p] for p in roles[name].parents) if name in roles else []
        if parents != current:

            def reparent(name=name, parents=parents):
                permission_service.update_role(
                    actor_id=None, role_id=role_id(name), parents=[role_id(p) for p in parents]
                )

            steps.append((f"~ set parents of role {name} to {parents}", reparent))

    groups = {group.name: group for group in permission_service.list_groups()}
    group_ids: dict[str, uuid.UUID | None] = {name: group.id for name, group in groups.items()}
    wanted_groups = {entry["name"]: entry for entry in document.get("groups", [])}
    for name, entry in wanted_groups.items():
        if name not in groups:

            def create_group(name=name, entry=entry):
                group_ids[name] = permission_service.create_group(
                    actor_id=None, name=name, description=entry.get("description", "")
                ).id

            steps.append((f"+ create group {name}", create_group))
        members = {_user_id(m) for m in entry.get("members", [])}
        current = set(permission_service.group_members(group_id=groups[name].id)) if name in groups else set()
        for user_id in sorted(members - current, key=str):
            added_users.append((user_id, f"add {user_id} to group {name}"))
            steps.append(
                (
                    f"+ add {user_id} to group {name}",
                    lambda name=name, user_id=user_id: permission_service.add_group_member(
                        actor_id=None, group_id=group_ids[name], user_id=user_id
                    ),
                )
            )
        for user_id in sorted(current - members, key=str):
            steps.append(
                (
                    f"- remove {user_id} from group {name}",
                    lambda name=name, user_id=user_id: permission_service.remove_group_member(
                        actor_id=None, group_id=group_ids[name], user_id=user_id
                    ),
                )
            )

    group_names = {group.id: name for name, group in groups.items()}
    existing = {}
    for a in all_assignments():
        subject = ("user", str(a.user_id)) if a.user_id else ("group", group_names.get(a.group_id))
        existing[(a.role_name, subject, a.scope, a.expires_at)] = a.id
    wanted = set()
    for entry in document.get("assignments", []):
        subject = ("user", str(_user_id(entry["user_id"]))) if entry.get("user_id") else ("group", entry["group"])
        key = (entry["role"], subject, entry.get("scope") or None, _expiry(entry.get("expires_at")))
        wanted.add(key)
        if key not in existing:

            def grant(key=key):
                role, (kind, who), scope, expires_at = key
                permission_service.grant_role(
                    actor_id=None,
                    role_id=role_id(role),
                    user_id=uuid.UUID(who) if kind == "user" else None,
                    group_id=group_ids[who] if kind == "group" else None,
                    scope=scope,
                    expires_at=expires_at,
                )

            if subject[0] == "user":
                added_users.append((uuid.UUID(subject[1]), f"grant {entry['role']} to user {subject[1]}"))
            steps.append((f"+ grant {key[0]} to {key[1][0]} {key[1][1]} in {key[2] or 'global'}", grant))

    # The services refuse a grant or a membership for a deactivated user; refusing the plan here
    # says so before anything changes (and lets the whole plan run in one transaction).
    added = sorted({user_id for user_id, _ in added_users}, key=str)
    inactive = {user.id for user in user_service.get_users(user_ids=added) if not user.is_active}
    refused = [f"{what} (the user is deactivated)" for user_id, what in added_users if user_id in inactive]
    if refused:
        raise CommandError("cannot add deactivated users; nothing changed:\n  " + "\n  ".join(refused))

    if prune:
        for key, assignment_id in existing.items():
            if key not in wanted:
                steps.append(
                    (
                        f"- revoke {key[0]} from {key[1][0]} {key[1][1]} in {key[2] or 'global'}",
                        lambda assignment_id=assignment_id: permission_service.revoke_assignment(
                            actor_id=None, assignment_id=assignment_id
                        ),
                    )
                )
        for name, group in groups.items():
            if name not in wanted_groups:
                steps.append(
                    (
                        f"- delete group {name}",
                        lambda group=group: permission_service.delete_group(actor_id=None, group_id=group.id),
                    )
                )
        for name, role in roles.items():
            if name not in wanted_roles and not role.is_system:
                steps.append(
                    (
                        f"- delete role {name}",
                        lambda role=role: permission_service.delete_role(actor_id=None, role_id=role.id),
                    )
                )
    return steps
