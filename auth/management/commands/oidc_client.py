"""`manage.py oidc_client`: register, list and remove OpenID Connect clients (docs/oidc.md)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from auth.interface.oidc import OidcClientInvalid, OidcClientNotFound, oidc_provider


class Command(BaseCommand):
    help = (
        "Manage OpenID Connect clients. `create --name NAME --redirect-uri URI [...] [--public] [--grant-type T ...] "
        "[--first-party] [--json]` prints the client id and its secret (shown once; none for public clients). "
        "`list` shows them; `delete CLIENT_ID` removes one and ends every grant it holds."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="register a client")
        create.add_argument("--name", required=True)
        create.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        create.add_argument("--post-logout-redirect-uri", action="append", default=[], dest="logout_uris")
        create.add_argument("--public", action="store_true", help="a client with no secret (SPA, mobile app): PKCE")
        create.add_argument(
            "--grant-type",
            action="append",
            dest="grant_types",
            choices=["authorization_code", "refresh_token", "client_credentials"],
            help="repeat for several; default: authorization_code and refresh_token",
        )
        create.add_argument("--first-party", action="store_true", help="no consent page")
        create.add_argument("--permissions-scope", default="", help="add a `permissions` claim for this RBAC scope")
        create.add_argument("--json", action="store_true", help="print JSON")
        listing = sub.add_parser("list", help="list clients")
        listing.add_argument("--json", action="store_true")
        delete = sub.add_parser("delete", help="remove a client and end its grants")
        delete.add_argument("client_id")

    def handle(self, *args, action, **options):
        if action == "create":
            try:
                created = oidc_provider.create_client(
                    name=options["name"],
                    redirect_uris=options["redirect_uris"],
                    public=options["public"],
                    grant_types=options["grant_types"],
                    first_party=options["first_party"],
                    post_logout_redirect_uris=options["logout_uris"],
                    permissions_scope=options["permissions_scope"],
                )
            except OidcClientInvalid as exc:
                raise CommandError("; ".join(f"{k}: {v}" for k, v in exc.details.items()) or exc.message) from None
            if options["json"]:
                self.stdout.write(
                    json.dumps({"client_id": created.client.client_id, "client_secret": created.client_secret})
                )
            else:
                self.stdout.write(f"client_id: {created.client.client_id}")
                if created.client_secret:
                    self.stdout.write(f"client_secret: {created.client_secret}  (shown once: store it now)")
            return
        if action == "list":
            clients = oidc_provider.list_clients()
            if options["json"]:
                rows = [
                    {
                        "client_id": c.client_id,
                        "name": c.name,
                        "public": c.public,
                        "first_party": c.first_party,
                        "redirect_uris": list(c.redirect_uris),
                        "grant_types": list(c.grant_types),
                    }
                    for c in clients
                ]
                self.stdout.write(json.dumps(rows))
            for c in [] if options["json"] else clients:
                kind = "public" if c.public else "confidential"
                self.stdout.write(f"{c.client_id}  {c.name}  ({kind}{', first-party' if c.first_party else ''})")
            return
        try:
            oidc_provider.delete_client(client_id=options["client_id"])
        except OidcClientNotFound:
            raise CommandError(f"no client {options['client_id']!r}") from None
        self.stdout.write(f"deleted {options['client_id']} and ended its grants")
