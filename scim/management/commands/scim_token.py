"""`manage.py scim_token create|list|revoke`: bearer tokens for identity providers (docs/scim.md)."""

from __future__ import annotations

import uuid
from json import dumps as json_dumps

from django.core.management.base import BaseCommand, CommandError

from scim.models import ScimToken
from scim.tokens import token_create, token_revoke
from users.interface.orgs import OrgNotFound, org_service


class Command(BaseCommand):
    help = "Create, list and revoke the bearer tokens of SCIM provisioning."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a token; its secret is printed once")
        create.add_argument("--name", default="SCIM client", help="who will use it, e.g. 'Okta'")
        create.add_argument("--org", help="provision this organization's members and roles only (its id)")
        create.add_argument("--json", action="store_true", help='print {"token": …} only')
        sub.add_parser("list", help="the tokens, newest first (never their secrets)")
        revoke = sub.add_parser("revoke", help="stop a token at once")
        revoke.add_argument("id", help="the token's id")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, *, name, org, json: bool, **_):
        org_id = None
        if org is not None:
            try:
                org_id = org_service.get_org(actor_id=None, org_id=uuid.UUID(org)).id
            except (ValueError, OrgNotFound):
                raise CommandError(f"no organization {org!r} (give its id)") from None
        token, secret = token_create(name=name, org_id=org_id)
        if json:
            self.stdout.write(json_dumps({"token": secret}))
        else:
            scope = f"organization {org_id}" if org_id else "global"
            self.stdout.write(f"SCIM token {token.id} ({token.name}, {scope}), shown once:\n{secret}")

    def handle_list(self, **_):
        for token in ScimToken.objects.all():
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            scope = f"org {token.org_id}" if token.org_id else "global"
            self.stdout.write(f"{token.id}  {token.prefix}…  {state}  {scope}  {token.name}")

    def handle_revoke(self, *, id, **_):
        try:
            token = ScimToken.objects.get(pk=uuid.UUID(id))
        except (ValueError, ScimToken.DoesNotExist):
            raise CommandError(f"no SCIM token {id!r}") from None
        token_revoke(token=token)
        self.stdout.write(f"revoked {token}")
