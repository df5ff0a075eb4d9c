"""`manage.py org`: organizations for operators (docs/orgs.md), through the org service.

org create --name NAME --slug SLUG --owner EMAIL     prints the org as JSON
org add-member ORG --email EMAIL [--role member]     ORG is the org's id or slug
org export ORG                                       the org, its members and invitations as JSON
org purge-scope ORG_ID                               what a crash in delete left in RBAC
"""

from __future__ import annotations

import json
import uuid

from django.core.management.base import BaseCommand, CommandError

from project.kernel.errors import DomainError
from users.interface import user_service
from users.interface.orgs import MAX_PAGE_SIZE, ORG_ROLES, org_service
from users.models import Organization


def _org_id(ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        org = Organization.objects.filter(slug=ref.strip().lower()).first()
        if org is None:
            raise CommandError(f"No organization with the slug {ref!r}.") from None
        return org.id


def _org(org) -> dict:
    return {
        "id": str(org.id),
        "name": org.name,
        "slug": org.slug,
        "require_mfa": org.require_mfa,
        "domain_join": org.domain_join,
        "created_at": org.created_at.isoformat(),
    }


class Command(BaseCommand):
    help = "Create organizations, add members, export an organization (JSON)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create an organization owned by a verified user.")
        create.add_argument("--name", required=True)
        create.add_argument("--slug", required=True)
        create.add_argument("--owner", required=True, help="The owner's email.")
        add = sub.add_parser("add-member", help="Add an existing user to an organization.")
        add.add_argument("org", help="The org's id or slug.")
        add.add_argument("--email", required=True)
        add.add_argument("--role", choices=ORG_ROLES, default="member")
        export = sub.add_parser("export", help="The org, its members and its invitations as JSON.")
        export.add_argument("org", help="The org's id or slug.")
        purge = sub.add_parser("purge-scope", help="Revoke what is left in the RBAC scope of a deleted org.")
        purge.add_argument("org_id")
        verify = sub.add_parser(
            "verify-domain", help="Mark a domain verified for an organization, without DNS (the operator's word)."
        )
        verify.add_argument("org", help="The org's id or slug.")
        verify.add_argument("domain")

    def handle(self, *args, action, **options):
        try:
            result = getattr(self, action.replace("-", "_"))(**options)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.details or ''}".strip()) from None
        self.stdout.write(json.dumps(result, indent=2))

    def _user_id(self, email: str) -> uuid.UUID:
        try:
            return user_service.get_user_by_email(email=email).id
        except DomainError:
            raise CommandError(f"No user with the email {email!r}.") from None

    def create(self, *, name, slug, owner, **_):
        return _org(org_service.create_org(actor_id=self._user_id(owner), name=name, slug=slug))

    def add_member(self, *, org, email, role, **_):
        member = org_service.add_member(actor_id=None, org_id=_org_id(org), user_id=self._user_id(email), role=role)
        return {"user_id": str(member.user_id), "email": member.email, "role": member.role}

    def export(self, *, org, **_):
        org_id = _org_id(org)
        members, cursor = [], None
        while True:  # keyset pages: constant cost each, however many members
            page = org_service.list_members(actor_id=None, org_id=org_id, limit=MAX_PAGE_SIZE, cursor=cursor)
            members += [
                {
                    "user_id": str(m.user_id),
                    "email": m.email,
                    "display_name": m.display_name,
                    "role": m.role,
                    "joined_at": m.joined_at.isoformat(),
                }
                for m in page.results
            ]
            if (cursor := page.next) is None:
                break
        invitations, cursor = [], None
        while True:
            page = org_service.list_invitations(actor_id=None, org_id=org_id, limit=MAX_PAGE_SIZE, cursor=cursor)
            invitations += [
                {
                    "id": str(i.id),
                    "email": i.email,
                    "role": i.role,
                    "status": i.status,
                    "created_at": i.created_at.isoformat(),
                    "expires_at": i.expires_at.isoformat(),
                }
                for i in page.results
            ]
            if (cursor := page.next) is None:
                break
        return {
            **_org(org_service.get_org(actor_id=None, org_id=org_id)),
            "members": members,
            "invitations": invitations,
        }

    def purge_scope(self, *, org_id, **_):
        from users.core.orgs import purge_scope

        try:
            return {"revoked": purge_scope(org_id=uuid.UUID(org_id))}
        except ValueError:
            raise CommandError("org_id is the deleted org's id (a UUID).") from None

    def verify_domain(self, *, org, domain, **_):
        found = org_service.confirm_domain(org_id=_org_id(org), domain=domain)
        return {
            "id": str(found.id),
            "org_id": str(found.org_id),
            "domain": found.domain,
            "verified_at": found.verified_at.isoformat() if found.verified_at else None,
            "verified_by": found.verified_by,
        }
