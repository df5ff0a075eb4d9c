"""`manage.py rbac`: check with explain, grant, revoke, export."""

import contextlib
import io
import json
import subprocess
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from permissions.interface import permission_service
from permissions.models import Assignment
from tests.support.factories import UserFactory
from tests.support.processes import ROOT, manage, subprocess_env
from tests.support.rbac import grant_role, new_user
from users.interface import user_service

from .conftest import role

pytestmark = pytest.mark.django_db


def rbac(*args) -> str:
    out = io.StringIO()
    call_command("rbac", *args, stdout=out)
    return out.getvalue().strip()


def denied(*args) -> str:
    """`rbac` that answers "denied" with exit status 1 (scripts branch on it)."""
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("rbac", *args, stdout=out)
    assert exited.value.code == 1
    return out.getvalue().strip()


def test_an_operator_grants_checks_explains_exports_and_revokes(codes):
    ada = UserFactory(email="ada@example.com")
    role("reader", ["docs.page.read"])
    assignment_id = rbac("grant", "reader", "--user", "ada@example.com", "--scope", "org:acme")
    assert rbac("check", "ada@example.com", "docs.page.read", "--scope", "org:acme/p:1") == "allowed"
    assert denied("check", str(ada.id), "docs.page.read") == "denied"
    assert denied("check", "ada@example.com", "docs.page.read", "--explain").startswith("denied (scope_mismatch)")
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


def test_grant_refuses_a_user_who_does_not_exist_or_is_deactivated(codes):
    """Issue 16 item 3: an unknown id, like a deactivated user's, is user_not_found; nothing is granted."""
    role("reader", ["docs.page.read"])
    new_user(email="gone@example.com", active=False)
    unknown = str(uuid.uuid4())
    with pytest.raises(CommandError, match=f"no user '{unknown}'"):
        rbac("grant", "reader", "--user", unknown)
    with pytest.raises(CommandError, match="user_not_found: The user does not exist or is deactivated"):
        rbac("grant", "reader", "--user", "gone@example.com")
    assert permission_service.list_assignments(limit=200).results == ()


def test_sync_makes_the_state_what_the_file_says_and_a_second_run_changes_nothing(codes, tmp_path):
    ada = UserFactory(email="ada@example.com")
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
    assert [r.name for r in permission_service.list_roles()] == ["admin", "old", "org_admin", "org_member", "org_owner"]

    rbac("sync", str(path), "--prune")
    assert [r.name for r in permission_service.list_roles()] == [
        "admin",
        "editor",
        "org_admin",
        "org_member",
        "org_owner",
        "reader",
    ]
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
    root = UserFactory(email="root@example.com", is_superuser=True)
    ada = UserFactory(email="ada@example.com")
    grant_role(root.id)
    reader = role("reader", ["docs.page.read"])
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=ada.id, scope="org:acme")
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
    permission_service.grant_role(actor_id=None, role_id=admin.id, user_id=ada.id, scope="org:acme")
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
    # A valid file, and a real database fault on its last step (a trigger refuses the revoke, as
    # a lost connection or a concurrent writer would): the role created before must not stay.
    _world()
    exported = json.loads(rbac("export"))
    exported["roles"].append({"name": "a_first", "permissions": ["docs.page.read"]})
    exported["assignments"] = [a for a in exported["assignments"] if a["role"] != "reader"]
    table = Assignment._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE TRIGGER fault BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION fault() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ "
                "LANGUAGE plpgsql"
            )
            cursor.execute(f"CREATE TRIGGER fault BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION fault()")
    before = _state()
    audit_before = permission_service.list_audit(limit=1).results[0].id
    with pytest.raises(Exception, match="injected fault"):
        _sync(tmp_path, exported, "--prune")
    assert _state() == before
    assert permission_service.list_audit(limit=1).results[0].id == audit_before


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_every_problem_is_listed_with_where_it_is(codes, tmp_path, dry_run):
    _world()
    document = {
        "roles": [
            {"name": "a", "parents": ["b"]},
            {"name": "b", "parents": ["a"], "description": 7},
            {"name": "admin", "permissions": ["docs.page.read"]},
            {"name": ["x"], "permissions": [{"code": 1}]},
            {"name": "reader", "system": True},
        ],
        "groups": [{"name": "g" * 101}],
        "assignments": [
            {"role": "reader", "user_id": "ada@example.com", "scope": 5},
            {"role": "reader", "user_id": "ada@example.com", "expires_at": "2001-01-01T00:00:00+00:00"},
            {"role": {"r": 1}, "group": ["g"]},
        ],
    }
    before = _state()
    with pytest.raises(CommandError) as refused:
        _sync(tmp_path, document, *(["--dry-run"] if dry_run else []))
    message = str(refused.value)
    for expected in (
        "roles ('a'): its parents lead back to it (a cycle)",
        "roles[1] ('b'): description must be a string",
        "roles[2] ('admin'): a system role cannot be changed",
        "roles[3] (['x']): a name (a string) is required",
        "roles[3] (['x']): permissions must be a list of strings",
        "roles[4] ('reader'): not a system role",
        "groups[0]: name is longer than 100 characters",
        "assignments[0]: invalid scope 5",
        "assignments[1]: expires_at '2001-01-01T00:00:00+00:00' is in the past",
        "assignments[2]: unknown role {'r': 1}",
        "assignments[2]: unknown group ['g']",
    ):
        assert expected in message
    assert _state() == before


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["reader", "admin", "ada@example.com", "org:acme", ""]),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.sampled_from(["name", "x"]), children),
    max_leaves=4,
)
FIELDS = ["name", "permissions", "parents", "members", "role", "user_id", "group", "scope", "expires_at"]
ENTRIES = st.lists(st.dictionaries(st.sampled_from([*FIELDS, "description", "system"]), VALUES, max_size=4), max_size=3)
# Files shaped like export's, with any JSON where a value goes (and sometimes a misspelled key).
DOCUMENTS = st.dictionaries(st.sampled_from(["roles", "groups", "assignments", "rolez"]), ENTRIES | VALUES, max_size=4)


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS)
def test_any_json_is_planned_or_refused_with_a_command_error_never_a_crash(codes, tmp_path, document):
    with contextlib.suppress(CommandError):
        _sync(tmp_path, document, "--dry-run", "--prune")


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


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_sync_refuses_to_add_a_deactivated_user_and_changes_nothing(codes, tmp_path, dry_run):
    _world()
    gone = new_user(email="gone@example.com", active=False)
    before = _state()
    document = {
        "roles": [{"name": "a_first", "permissions": ["docs.page.read"]}],
        "groups": [{"name": "g", "members": ["gone@example.com"]}],
        "assignments": [{"role": "reader", "user_id": str(gone)}],
    }
    with pytest.raises(CommandError, match="cannot add deactivated users") as caught:
        _sync(tmp_path, document, *(["--dry-run"] if dry_run else []))
    assert f"add {gone} to group g (the user is deactivated)" in str(caught.value)
    assert f"grant reader to user {gone} (the user is deactivated)" in str(caught.value)
    assert _state() == before


def test_an_exported_file_still_syncs_once_a_holder_is_deactivated(codes, tmp_path):
    _, ada = _world()
    permission_service.create_group(actor_id=None, name="staff")
    staff = permission_service.list_groups()[0]
    permission_service.add_group_member(actor_id=None, group_id=staff.id, user_id=ada.id)
    user_service.deactivate_user(user_id=ada.id)
    exported = json.loads(rbac("export"))
    assert _sync(tmp_path, exported, "--prune") == "0 change(s)"


def test_check_answers_with_its_exit_status_as_a_script_sees_it(transactional_db, codes):
    """Issue 16 item 13: 0 allowed, 1 denied, 2 a usage error; an unknown id is as unknown as an
    unknown email. The real `manage.py`, so the status is the process's."""
    ada = UserFactory(email="ada@example.com")
    reader = role("reader", ["docs.page.read"])
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=ada.id, scope="org:acme")
    unknown = str(uuid.uuid4())
    cases = [
        (["ada@example.com", "docs.page.read", "--scope", "org:acme"], 0, "allowed", ""),
        ([str(ada.id), "docs.page.read"], 1, "denied", ""),
        ([str(ada.id), "docs.page.read", "--explain"], 1, "denied (scope_mismatch)", ""),
        (["who@example.com", "docs.page.read"], 2, "", "no user 'who@example.com'"),
        ([unknown, "docs.page.read"], 2, "", f"no user '{unknown}'"),
        (["ada@example.com", "docs.page.nope"], 2, "", "unknown permission 'docs.page.nope'"),
        (["ada@example.com", "docs.page.read", "--scope", "org acme"], 2, "", "Segments are type:id"),
    ]
    for args, status, out, err in cases:
        result = subprocess.run(
            manage("rbac", "check", *args),
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == status, (args, result.stdout, result.stderr)
        assert result.stdout.startswith(out), (args, result.stdout)
        assert err in result.stderr, (args, result.stderr)
