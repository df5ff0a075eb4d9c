"""`createsuperuser` through the users service (Django's own writes the model directly)."""

import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from permissions.interface import permission_service
from project.kernel.errors import DomainError
from users.interface import user_service


class Command(BaseCommand):
    help = "Create an active, verified superuser holding the admin role globally. With --noinput, reads DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("--email", help="The superuser's email.")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")
        parser.add_argument("--database", default="default", help="Ignored; kept for compatibility.")

    def handle(self, *args, email=None, interactive=True, **options):
        email = email or os.environ.get("DJANGO_SUPERUSER_EMAIL")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if interactive:
            email = email or input("Email: ")
            password = password or getpass.getpass("Password: ")
        if not email or not password:
            raise CommandError(
                "Set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD (or pass --email) with --noinput."
            )
        try:
            user = user_service.create_user(
                email=email, password=password, is_verified=True, is_staff=True, is_superuser=True
            )
        except DomainError as exc:
            detail = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.details.items())
            raise CommandError(f"{exc.message} {detail}".strip()) from exc
        # docs/operations.md (Commands): the superuser holds the `admin` role globally (actor None: the operator).
        admin_role = permission_service.get_role_by_name(name="admin")
        permission_service.grant_role(actor_id=None, role_id=admin_role.id, user_id=user.id)
        self.stdout.write(f"Superuser {user.email} created, holding the admin role globally.")
