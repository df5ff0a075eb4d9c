"""`manage.py rbac`: check with explain, grant, revoke, export."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from permissions.interface import permission_service
from users.interface import user_service

from .conftest import role

pytestmark = pytest.mark.django_db


def rbac(*args) -> str:
    out = io.StringIO()
    call_command("rbac", *args, stdout=out)
    return out.getvalue().strip()


def test_an_operator_grants_checks_explains_exports_and_revokes(codes):
    ada = user_service.create(email="ada@example.com")
    role("reader", ["docs.page.read"])
    assignment_id = rbac("grant", "reader", "--user", "ada@example.com", "--scope", "org:acme")
    assert rbac("check", "ada@example.com", "docs.page.read", "--scope", "org:acme/p:1") == "allowed"
    assert rbac("check", str(ada.id), "docs.page.read") == "denied"
    assert rbac("check", "ada@example.com", "docs.page.read", "--explain").startswith("denied (scope_mismatch)")
    exported = json.loads(rbac("export"))
    assert {"name": "reader", "description": "", "permissions": ["docs.page.read"], "parents": []} in exported["roles"]
    assert exported["assignments"] == [
        {"id": assignment_id, "role": "reader", "user_id": str(ada.id), "scope": "org:acme", "expires_at": None}
    ]
    assert rbac("revoke", assignment_id) == f"revoked {assignment_id}"
    assert not permission_service.check(user_id=ada.id, permission="docs.page.read", scope="org:acme")
    assert permission_service.list_audit(limit=1).results[0].actor_id is None


def test_an_operator_error_is_a_command_error_with_the_domain_code(codes):
    with pytest.raises(CommandError, match="role_not_found"):
        rbac("grant", "nobody", "--user", "00000000-0000-0000-0000-000000000001")
    with pytest.raises(CommandError, match="no user"):
        rbac("check", "who@example.com", "docs.page.read")
