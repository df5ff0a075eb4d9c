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


def test_sync_makes_the_state_what_the_file_says_and_a_second_run_changes_nothing(codes, tmp_path):
    ada = user_service.create(email="ada@example.com")
    role("old", ["docs.page.read"])
    document = {
        "roles": [
            {"name": "reader", "description": "Reads.", "permissions": ["docs.page.read"], "parents": []},
            {"name": "editor", "permissions": ["docs.page.write"], "parents": ["reader"]},
        ],
        "groups": [{"name": "staff", "members": ["ada@example.com"]}],
        "assignments": [
            {"role": "editor", "group": "staff", "scope": "org:acme"},
            {"role": "reader", "user_id": str(ada.id), "scope": None},
        ],
    }
    path = tmp_path / "rbac.json"
    path.write_text(json.dumps(document))

    dry = rbac("sync", str(path), "--dry-run", "--prune")
    assert "would create role editor" in dry and "would delete role old" in dry
    assert [r.name for r in permission_service.list_roles()] == ["admin", "old"]

    rbac("sync", str(path), "--prune")
    assert [r.name for r in permission_service.list_roles()] == ["admin", "editor", "reader"]
    assert permission_service.check(user_id=ada.id, permission="docs.page.write", scope="org:acme/p:1")
    assert permission_service.check(user_id=ada.id, permission="docs.page.read")
    assert not permission_service.check(user_id=ada.id, permission="docs.page.write")
    assert rbac("sync", str(path), "--prune") == "0 change(s)"

    exported = tmp_path / "exported.json"
    exported.write_text(rbac("export"))
    assert rbac("sync", str(exported), "--prune") == "0 change(s)"
