"""`manage.py org create | add-member | export | purge-scope`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.support.factories import UserFactory
from users.models import Organization

pytestmark = pytest.mark.django_db


def org(*args) -> dict:
    out = io.StringIO()
    call_command("org", *args, stdout=out)
    return json.loads(out.getvalue())


def test_create_add_member_and_export_an_org():
    owner, bob = UserFactory(email="owner@example.com"), UserFactory(email="bob@example.com")

    created = org("create", "--name", "Acme", "--slug", "acme", "--owner", owner.email)
    added = org("add-member", "acme", "--email", bob.email, "--role", "admin")
    exported = org("export", created["id"])

    assert (created["slug"], added["role"]) == ("acme", "admin")
    assert {(m["email"], m["role"]) for m in exported["members"]} == {(owner.email, "owner"), (bob.email, "admin")}
    assert exported["invitations"] == []


def test_errors_are_command_errors_and_change_nothing():
    owner = UserFactory()
    org("create", "--name", "Acme", "--slug", "acme", "--owner", owner.email)

    with pytest.raises(CommandError, match="slug_taken"):
        org("create", "--name", "Other", "--slug", "acme", "--owner", owner.email)
    with pytest.raises(CommandError, match="already_member"):
        org("add-member", "acme", "--email", owner.email)
    with pytest.raises(CommandError, match="No organization"):
        org("export", "nope")
    with pytest.raises(CommandError, match="No user"):
        org("add-member", "acme", "--email", "ghost@example.com")
    assert Organization.objects.count() == 1
