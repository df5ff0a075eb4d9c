"""`manage.py scim_token create|list|revoke`: bearer tokens for identity providers (docs/scim.md)."""

from __future__ import annotations

import uuid
from json import dumps as json_dumps

from django.core.management.base import BaseCommand, CommandError

from scim.models import ScimToken
from scim.tokens import token_create, token_revoke


class Command(BaseCommand):
    help = "Create, list and revoke the bearer tokens of SCIM provisioning."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a token; its secret is printed once")
        create.add_argument("--name", default="SCIM client", help="who will use it, e.g. 'Okta'")
        create.add_argument("--org", help="provision one organization only (needs organizations)")
        create.add_argument("--json", action="store_true", help='print {"token": …} only')
        sub.add_parser("list", help="the tokens, newest first (never their secrets)")
        revoke = sub.add_parser("revoke", help="stop a token at once")
        revoke.add_argument("id", help="the token's id")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, *, name, org, json: bool, **_):
        if org is not None:
            # Tokens are global until organizations exist; then --org scopes one (docs/scim.md).
            raise CommandError("--org is not available: Gatehouse has no organizations yet; tokens are global.")
        token, secret = token_create(name=name)
        if json:
            self.stdout.write(json_dumps({"token": secret}))
        else:
            self.stdout.write(f"SCIM token {token.id} ({token.name}), shown once:\n{secret}")

    def handle_list(self, **_):
        for token in ScimToken.objects.all():
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            self.stdout.write(f"{token.id}  {token.prefix}…  {state}  {token.name}")

    def handle_revoke(self, *, id, **_):
        try:
            token = ScimToken.objects.get(pk=uuid.UUID(id))
        except (ValueError, ScimToken.DoesNotExist):
            raise CommandError(f"no SCIM token {id!r}") from None
        token_revoke(token=token)
        self.stdout.write(f"revoked {token}")
