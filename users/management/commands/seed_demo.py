"""`manage.py seed_demo` (docs/operations.md, Commands, issue 16 item 8): a demo world, built through the services'
interfaces like any other caller, so it runs in every mode (embedded, stack, split).

Users `demo1@example.com` … `demo<N>@example.com` (verified), teams (groups) they belong to, three
roles that inherit from each other, assignments to groups and users (global, scoped, expiring),
notifications in their inboxes, and two organizations (ORGS: demo-acme and demo-globex, with
owners, admins and members among the demo users, and one pending invitation). Idempotent: what
exists is found and left alone, so a second run changes nothing and says so; a larger `--users`
adds only what is missing. A progress line per step goes to stderr (a bar on a terminal).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from notifications.interface import CHANNEL_IN_APP, MAX_RECIPIENTS, TYPE_ANNOUNCEMENT, notification_service
from permissions.interface import MAX_PAGE_SIZE as RBAC_PAGE
from permissions.interface import Role, permission_service
from project.kernel.errors import DomainError
from users.interface import MAX_PAGE_SIZE as USERS_PAGE
from users.interface import user_service
from users.interface.orgs import MAX_PAGE_SIZE as ORGS_PAGE
from users.interface.orgs import Organization, org_service

EMAIL = "demo{}@example.com"
EMAIL_PATTERN = re.compile(r"demo(\d+)@example\.com")
# name: (description, permissions, parent); each role inherits its parent's permissions.
ROLES: dict[str, tuple[str, list[str], str | None]] = {
    "demo-viewer": (
        "Demo: sees people, roles and notifications",
        ["users.user.view", "rbac.role.view", "notifications.notification.view"],
        None,
    ),
    "demo-editor": (
        "Demo: a viewer who also runs teams and sends notifications",
        ["rbac.group.manage", "notifications.notification.send"],
        "demo-viewer",
    ),
    "demo-manager": (
        "Demo: an editor who also manages people and their access",
        ["users.user.manage", "rbac.assignment.manage", "rbac.audit.view"],
        "demo-editor",
    ),
}
TEAMS = ("engineering", "support", "sales")
# slug: (name, {demo user number: org role}, pending invitation or None). The first listed is the
# owner, who creates the org; members beyond --users are left out.
ORGS: dict[str, tuple[str, dict[int, str], tuple[str, str] | None]] = {
    "demo-acme": ("Demo Acme", {1: "owner", 2: "admin", 3: "member", 4: "member", 5: "member"}, None),
    "demo-globex": (
        "Demo Globex",
        {1: "owner", 4: "admin", 6: "member", 7: "member", 8: "member"},
        ("invitee@demo.example.com", "member"),
    ),
}
EXPIRING_DAYS = 30


def team_count(users: int) -> int:
    return max(len(TEAMS), min(100, users // 100))


def team_name(k: int) -> str:
    return f"demo-{TEAMS[k]}" if k < len(TEAMS) else f"demo-team-{k + 1}"


def project_scope(k: int) -> str:
    return f"org:demo/project:{k + 1}"


@dataclass
class Tally:
    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, *, created: int = 0, existing: int = 0) -> None:
        self.created[what] = self.created.get(what, 0) + created
        self.existing[what] = self.existing.get(what, 0) + existing

    @property
    def changed(self) -> bool:
        return any(self.created.values())


class Progress:
    """A progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream, label: str, total: int, *, enabled: bool):
        # `stream`: the command's stderr (Django's OutputWrapper: `ending` says what follows a write).
        self.stream, self.label, self.total, self.enabled = stream, label, max(total, 0), enabled
        self.done, self.drawn_at = 0, 0.0
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._draw(force=self.done >= self.total)

    def close(self) -> None:
        if self.done != self.total:
            self.done = self.total
            self._draw(force=True)
        if self.enabled:
            self.stream.write("")

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.drawn_at < 0.1):
            return
        self.drawn_at = now
        width = 30
        filled = width if not self.total else int(width * self.done / self.total)
        self.stream.write(
            f"\r{self.label:<14} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}", ending=""
        )
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Create a demo world through the services: verified users demo1@example.com…, teams, roles with "
        "inheritance, global, scoped and expiring assignments, notifications in inboxes. Idempotent; "
        "--users N builds benchmark-scale data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=20, help="How many demo users (default 20).")
        parser.add_argument(
            "--password",
            help="The demo users' password. Default: a random one, printed once (users created by an "
            "earlier run keep theirs).",
        )
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Progress bars on stderr (default: when stderr is a terminal).",
        )

    def handle(self, *args, users: int, password: str | None, progress: bool | None, **options):
        if users < 1:
            raise CommandError("--users must be at least 1.")
        self.progress_on = self.stderr.isatty() if progress is None else progress
        self.tally = Tally()
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        try:
            user_ids, created_ids = self._users(users, password)
            roles = self._roles()
            teams = self._teams(users)
            self._memberships(user_ids, teams)
            self._assignments(user_ids, teams, roles)
            self._notifications(created_ids)
            self._orgs(user_ids)
        except DomainError as exc:
            detail = "; ".join(
                f"{key}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for key, v in exc.details.items()
            )
            raise CommandError(f"{exc.message} {detail}".strip()) from exc
        self._report(users, created_ids, password if generated else None)

    # --- the parts of the world ---------------------------------------------------------------------

    def _bar(self, label: str, total: int) -> Progress:
        return Progress(self.stderr, label, total, enabled=self.progress_on)

    def _users(self, count: int, password: str) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        """The ids of demo users 1..count (created when missing), and those created now."""
        found: dict[int, uuid.UUID] = {}
        cursor = None
        while True:  # one page of 200 per call, not one call per user
            page = user_service.list_users(search="@example.com", limit=USERS_PAGE, cursor=cursor)
            for user in page.results:
                match = EMAIL_PATTERN.fullmatch(user.email)
                if match:
                    found[int(match.group(1))] = user.id
            if not page.next:
                break
            cursor = page.next
        ids, created = [], []
        bar = self._bar("users", count)
        for n in range(1, count + 1):
            if n not in found:
                user = user_service.create_user(
                    email=EMAIL.format(n), password=password, display_name=f"Demo User {n}", is_verified=True
                )
                found[n] = user.id
                created.append(user.id)
            ids.append(found[n])
            bar.advance()
        bar.close()
        self.tally.add("users", created=len(created), existing=count - len(created))
        return ids, created

    def _roles(self) -> dict[str, Role]:
        existing = {role.name: role for role in permission_service.list_roles()}
        roles: dict[str, Role] = {}
        for name, (description, permissions, parent) in ROLES.items():  # parents come first
            if name in existing:
                roles[name] = existing[name]
                self.tally.add("roles", existing=1)
                continue
            roles[name] = permission_service.create_role(
                actor_id=None,
                name=name,
                description=description,
                permissions=permissions,
                parents=[roles[parent].id] if parent else [],
            )
            self.tally.add("roles", created=1)
        return roles

    def _teams(self, users: int) -> list[uuid.UUID]:
        existing = {group.name: group.id for group in permission_service.list_groups()}
        teams = []
        for k in range(team_count(users)):
            name = team_name(k)
            if name in existing:
                teams.append(existing[name])
                self.tally.add("groups", existing=1)
            else:
                group = permission_service.create_group(actor_id=None, name=name, description="Demo team")
                teams.append(group.id)
                self.tally.add("groups", created=1)
        return teams

    def _memberships(self, user_ids: list[uuid.UUID], teams: list[uuid.UUID]) -> None:
        """User i belongs to team i mod (number of teams)."""
        members = {team: set(permission_service.group_members(group_id=team)) for team in teams}
        bar = self._bar("memberships", len(user_ids))
        for i, user_id in enumerate(user_ids):
            team = teams[i % len(teams)]
            if user_id in members[team]:
                self.tally.add("memberships", existing=1)
            else:
                permission_service.add_group_member(actor_id=None, group_id=team, user_id=user_id)
                self.tally.add("memberships", created=1)
            bar.advance()
        bar.close()

    def _assignments(self, user_ids: list[uuid.UUID], teams: list[uuid.UUID], roles: dict[str, Role]) -> None:
        """Every team: viewer globally, editor in its project's scope. demo1: manager globally;
        every 10th user after it: manager in org:demo; users 6, 16, 26…: editor globally, expiring
        in 30 days."""
        wanted: list[tuple[str, uuid.UUID | None, uuid.UUID | None, str | None, bool]] = []
        for k, team in enumerate(teams):
            wanted.append(("demo-viewer", None, team, None, False))
            wanted.append(("demo-editor", None, team, project_scope(k), False))
        for i, user_id in enumerate(user_ids):
            if i == 0:
                wanted.append(("demo-manager", user_id, None, None, False))
            elif i % 10 == 0:
                wanted.append(("demo-manager", user_id, None, "org:demo", False))
            elif i % 10 == 5:
                wanted.append(("demo-editor", user_id, None, None, True))
        have = set()
        for role in roles.values():  # one paged listing per role, not one call per user
            cursor = None
            while True:
                page = permission_service.list_assignments(role_id=role.id, limit=RBAC_PAGE, cursor=cursor)
                have.update((a.role_id, a.user_id, a.group_id, a.scope or None) for a in page.results)
                if not page.next:
                    break
                cursor = page.next
        expires_at = datetime.now(UTC) + timedelta(days=EXPIRING_DAYS)
        bar = self._bar("assignments", len(wanted))
        for role_name, user_id, group_id, scope, expiring in wanted:
            role_id = roles[role_name].id
            if (role_id, user_id, group_id, scope) in have:
                self.tally.add("assignments", existing=1)
            else:
                permission_service.grant_role(
                    actor_id=None,
                    role_id=role_id,
                    user_id=user_id,
                    group_id=group_id,
                    scope=scope,
                    expires_at=expires_at if expiring else None,
                )
                self.tally.add("assignments", created=1)
            bar.advance()
        bar.close()

    def _notifications(self, created_ids: list[uuid.UUID]) -> None:
        """An announcement in the inbox of every user this run created (their welcome and
        role notices arrive as for any user): in batches of up to MAX_RECIPIENTS, each under an
        idempotency key made from its recipients, so a retried run never sends one twice."""
        batches = [created_ids[i : i + MAX_RECIPIENTS] for i in range(0, len(created_ids), MAX_RECIPIENTS)]
        for batch in batches:
            digest = hashlib.sha256(b"".join(sorted(user_id.bytes for user_id in batch))).hexdigest()[:40]
            notification_service.send_notification(
                type=TYPE_ANNOUNCEMENT,
                context={
                    "subject": "Welcome to the Gatehouse demo",
                    "body": "This account is part of the demo world made by manage.py seed_demo.",
                },
                user_ids=batch,
                channels=[CHANNEL_IN_APP],
                idempotency_key=f"seed_demo:{digest}",
            )
        self.tally.add("announcements", created=len(batches))

    def _orgs(self, user_ids: list[uuid.UUID]) -> None:
        """ORGS, through the org service: each created by its owner (a verified demo user), its
        members added with their role, its invitation sent (mailed like any) unless one to that
        address is pending already. A member whose role differs is left alone (a demo edited by
        hand stays as it is)."""
        for slug, (name, roles, invitation) in ORGS.items():
            owner_n = next(iter(roles))
            owner = user_ids[owner_n - 1]
            org = self._org(owner, slug, name)
            present = {
                m.user_id
                for m in self._all(
                    lambda c, o=org: org_service.list_members(actor_id=None, org_id=o.id, limit=ORGS_PAGE, cursor=c)
                )
            }
            added = 0
            for n, role in roles.items():
                if n > len(user_ids) or user_ids[n - 1] in present:
                    continue
                org_service.add_member(actor_id=None, org_id=org.id, user_id=user_ids[n - 1], role=role)
                added += 1
            wanted = sum(1 for n in roles if n <= len(user_ids))
            self.tally.add("org members", created=added, existing=wanted - added)
            sent = 0
            if invitation is not None:
                email, role = invitation
                pending = [
                    i
                    for i in self._all(
                        lambda c, o=org: org_service.list_invitations(
                            actor_id=None, org_id=o.id, limit=ORGS_PAGE, cursor=c
                        )
                    )
                    if i.email == email and i.status == "pending"
                ]
                if not pending:
                    org_service.create_invitation(actor_id=None, org_id=org.id, email=email, role=role)
                    sent = 1
                self.tally.add("invitations", created=sent, existing=1 - sent)
            self.stderr.write(  # one progress line per org, terminal or not
                f"org {slug}: {wanted} members ({added} added), "
                f"{'1 invitation sent' if sent else 'invitation pending' if invitation else 'no invitation'}"
            )

    def _org(self, owner: uuid.UUID, slug: str, name: str) -> Organization:
        mine = {
            m.org.slug: m.org
            for m in self._all(lambda c: org_service.list_orgs(user_id=owner, limit=ORGS_PAGE, cursor=c))
        }
        if slug in mine:
            self.tally.add("orgs", existing=1)
            return mine[slug]
        org = org_service.create_org(actor_id=owner, name=name, slug=slug)
        self.tally.add("orgs", created=1)
        return org

    @staticmethod
    def _all(fetch) -> list:
        results, cursor = [], None
        while True:
            page = fetch(cursor)
            results += page.results
            if not page.next:
                return results
            cursor = page.next

    def _report(self, users: int, created_ids: list[uuid.UUID], password: str | None) -> None:
        names = [
            "users",
            "roles",
            "groups",
            "memberships",
            "assignments",
            "announcements",
            "orgs",
            "org members",
            "invitations",
        ]
        lines = [
            f"  {name:<14} {self.tally.created.get(name, 0):>7} created {self.tally.existing.get(name, 0):>7} existing"
            for name in names
        ]
        if not self.tally.changed:
            self.stdout.write(f"Nothing to do: the demo world of {users} users is already there.")
        else:
            self.stdout.write(f"Demo world of {users} users ready:")
        self.stdout.write("\n".join(lines))
        if created_ids and password is not None:
            self.stdout.write(
                f"Password of the {len(created_ids)} users created now (shown once): {password}\n"
                f"Sign in as {EMAIL.format(1)} (demo-manager globally) or any demo<N>@example.com."
            )
