"""`manage.py rbac`: check with explain, grant, revoke, export."""

import io
import json
import uuid

import pytest
from django.core.management import CommandError, call_command

from permissions.interface import permission_service
from tests.support.rbac import grant_role
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
    assert "+ would create role editor" in dry.splitlines() and "- would delete role old" in dry.splitlines()
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


# --- sync refuses what it cannot do safely (issue 16, items 1 and 2) ------------------------------


def _world():
    """A superuser holding admin, a reader role held by ada: what a bad sync must leave alone."""
    root = user_service.create(email="root@example.com", is_superuser=True)
    ada = user_service.create(email="ada@example.com")
    grant_role(root.id)
    reader = role("reader", ["docs.page.read"])
    permission_service.grant(actor_id=None, role_id=reader.id, user_id=ada.id, scope="org:acme")
    return root, ada


def _state():
    return (
        sorted((r.name, tuple(r.permissions), tuple(r.parents)) for r in permission_service.list_roles()),
        sorted(g.name for g in permission_service.list_groups()),
        sorted((a.role_name, str(a.user_id), a.scope) for a in permission_service.list_assignments(limit=200).results),
    )


def _sync(tmp_path, document, *flags):
    path = tmp_path / "rbac.json"
    path.write_text(json.dumps(document))
    return rbac("sync", str(path), *flags)


@pytest.mark.parametrize("flags", [(), ("--prune",), ("--dry-run",), ("--dry-run", "--prune")])
def test_a_misspelled_top_level_key_is_refused_and_revokes_nothing(codes, tmp_path, flags):
    root, _ = _world()
    before = _state()
    with pytest.raises(CommandError, match="unknown key 'rolez'"):
        _sync(tmp_path, {"rolez": []}, *flags)
    assert _state() == before
    assert permission_service.check(user_id=root.id, permission="rbac.role.manage")


BAD_FILES = {
    "unknown permission": (
        {"roles": [{"name": "z", "permissions": ["docs.page.nope"]}]},
        "\\('z'\\): unknown permission",
    ),
    "missing parent": ({"roles": [{"name": "z", "parents": ["ghost"]}]}, "unknown parent role"),
    "bad scope": (
        {"assignments": [{"role": "reader", "user_id": "ada@example.com", "scope": "acme"}]},
        "invalid scope",
    ),
    "unknown user": ({"assignments": [{"role": "reader", "user_id": str(uuid.uuid4())}]}, "no user"),
    "unknown role": ({"assignments": [{"role": "ghost", "user_id": "ada@example.com"}]}, "unknown role 'ghost'"),
    "unknown member": ({"groups": [{"name": "g", "members": ["who@example.com"]}]}, "no user 'who@example.com'"),
    "unknown nested key": ({"roles": [{"name": "z", "permisions": []}]}, "unknown key 'permisions'"),
    "naive expiry": (
        {"assignments": [{"role": "reader", "user_id": "ada@example.com", "expires_at": "2030-01-01T00:00:00"}]},
        "no time zone",
    ),
}


@pytest.mark.parametrize("name", BAD_FILES)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_the_dry_run_and_the_real_run_refuse_the_same_bad_file_before_changing_anything(codes, tmp_path, name, dry_run):
    _world()
    before = _state()
    document, message = BAD_FILES[name]
    # A valid role first: the real run once created it, then failed on the bad entry.
    document = {
        **document,
        "roles": [{"name": "a_first", "permissions": ["docs.page.read"]}, *document.get("roles", [])],
    }
    with pytest.raises(CommandError, match=message):
        _sync(tmp_path, document, *(["--dry-run"] if dry_run else []))
    assert _state() == before


def test_prune_needs_every_section_so_a_missing_one_is_not_read_as_empty(codes, tmp_path):
    _world()
    before = _state()
    with pytest.raises(CommandError, match="--prune needs 'assignments'"):
        _sync(tmp_path, {"roles": [], "groups": []}, "--prune")
    assert _state() == before


def test_prune_refuses_to_revoke_the_last_admin_unless_told_to(codes, tmp_path):
    root, ada = _world()
    exported = json.loads(rbac("export"))
    without_admin = {**exported, "assignments": [a for a in exported["assignments"] if a["role"] != "admin"]}
    before = _state()
    with pytest.raises(CommandError, match="every assignment of the system role 'admin' would be revoked"):
        _sync(tmp_path, without_admin, "--prune")
    assert _state() == before

    out = _sync(tmp_path, without_admin, "--prune", "--allow-removing-admins")
    assert f"- revoke admin from user {root.id} in global" in out.splitlines()
    assert not permission_service.check(user_id=root.id, permission="rbac.role.manage")
    assert permission_service.check(user_id=ada.id, permission="docs.page.read", scope="org:acme")


def test_prune_refuses_to_revoke_the_last_global_admin_even_when_a_scoped_one_stays(codes, tmp_path):
    root, ada = _world()
    admin = permission_service.get_role_by_name(name="admin")
    permission_service.grant(actor_id=None, role_id=admin.id, user_id=ada.id, scope="org:acme")
    exported = json.loads(rbac("export"))
    only_scoped = {
        **exported,
        "assignments": [a for a in exported["assignments"] if not (a["role"] == "admin" and a["scope"] is None)],
    }
    before = _state()
    for flags in (("--prune",), ("--prune", "--dry-run")):
        with pytest.raises(CommandError, match="the last global assignment of 'admin' would be revoked"):
            _sync(tmp_path, only_scoped, *flags)
    assert _state() == before

    _sync(tmp_path, only_scoped, "--prune", "--allow-removing-admins")
    assert not permission_service.check(user_id=root.id, permission="rbac.role.manage")


def test_a_step_that_fails_midway_rolls_back_the_whole_plan(codes, tmp_path):
    # Validation passes (every parent exists in the file), but the second reparent closes a
    # cycle, which only the service sees: the roles created and reparented before must go too.
    _world()
    exported = json.loads(rbac("export"))
    exported["roles"] += [
        {"name": "a_first", "permissions": ["docs.page.read"], "parents": ["b_second"]},
        {"name": "b_second", "permissions": ["docs.page.read"], "parents": ["a_first"]},
    ]
    before = _state()
    audit_before = permission_service.list_audit(limit=1).results[0].id
    with pytest.raises(CommandError):
        _sync(tmp_path, exported, "--prune")
    assert _state() == before
    assert permission_service.list_audit(limit=1).results[0].id == audit_before


def test_the_plan_reads_as_a_diff(codes, tmp_path):
    _, ada = _world()
    exported = json.loads(rbac("export"))
    exported["roles"] = [r for r in exported["roles"] if r["name"] != "reader"] + [
        {"name": "reader", "description": "Reads.", "permissions": ["docs.page.write"], "parents": []},
        {"name": "writer", "permissions": ["docs.page.write"], "parents": ["reader"]},
    ]
    exported["assignments"] = [a for a in exported["assignments"] if a["role"] != "reader"]
    lines = _sync(tmp_path, exported, "--dry-run", "--prune").splitlines()
    assert lines == [
        "~ would update role reader: permissions +docs.page.write -docs.page.read, description 'Reads.'",
        "+ would create role writer",
        "~ would set parents of role writer to ['reader']",
        f"- would revoke reader from user {ada.id} in org:acme",
        "4 change(s) planned",
    ]
    assert _sync(tmp_path, exported, "--prune").splitlines() == [
        line.replace("would ", "").replace(" planned", "") for line in lines
    ]
    assert permission_service.check(user_id=ada.id, permission="docs.page.write", scope="org:acme") is False


def test_a_real_sync_through_a_remote_permissions_service_is_refused_as_it_cannot_be_one_transaction(
    codes, tmp_path, settings
):
    _world()
    settings.GATEHOUSE_GRPC_TARGETS = {**settings.GATEHOUSE_GRPC_TARGETS, "permissions": "127.0.0.1:1"}
    document = {"roles": [{"name": "writer", "permissions": ["docs.page.write"]}]}
    before = _state()
    assert _sync(tmp_path, document, "--dry-run").splitlines()[0] == "+ would create role writer"
    with pytest.raises(CommandError, match="runs where the permissions service runs"):
        _sync(tmp_path, document)
    assert _state() == before
