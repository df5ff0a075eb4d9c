from django.core.management.base import BaseCommand

from auth.core import keys
from auth.models import SigningKey


class Command(BaseCommand):
    help = (
        "Manage the keys that sign access tokens. `rotate`: a new key signs from now on; the old one "
        "stays in the JWKS until every token it signed has expired. `prune`: drop keys no token needs. "
        "`list`: show them (public metadata only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rotate", "prune", "list"])

    def handle(self, *args, action, **options):
        if action == "rotate":
            key = keys.signing_key_create()
            self.stdout.write(f"new signing key {key.kid} ({key.algorithm}); older keys retired with overlap")
        elif action == "prune":
            self.stdout.write(f"pruned {keys.signing_keys_prune()} retired key(s)")
        for key in SigningKey.objects.order_by("-created_at"):
            state = (
                "active"
                if key.retired_at is None
                else f"retired, published until {key.publish_until:%Y-%m-%dT%H:%M:%SZ}"
            )
            self.stdout.write(f"{key.kid}  {key.algorithm}  created {key.created_at:%Y-%m-%dT%H:%M:%SZ}  {state}")
