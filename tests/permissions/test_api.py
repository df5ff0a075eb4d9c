"""/api/v1/rbac/ through the real HTTP path: bearer tokens, permissions, escalation, error envelope."""

import uuid

import pytest
from rest_framework.test import APIClient

from permissions.interface import ADMIN_ROLE, permission_service
from permissions.models import Permission
from tests.support.factories import UserFactory
from tests.support.http import client_for, error_code
from tests.support.rbac import new_user
from users.interface import user_service

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.permissions.urls")]

RBAC = "/api/v1/rbac"


def account(email: str) -> tuple[APIClient, uuid.UUID]:
    """A new user's signed-in client, and the user's id."""
    user = UserFactory(email=email)
    return client_for(user), user.id


@pytest.fixture
def root():
    client, user_id = account("root@example.com")
    admin = permission_service.get_role_by_name(name=ADMIN_ROLE)
    permission_service.grant_role(actor_id=None, role_id=admin.id, user_id=user_id)
    return client, user_id


@pytest.fixture
def ada():
    return account("ada@example.com")


def test_without_a_token_every_endpoint_is_401():
    for method, path in [("get", "permissions"), ("get", "roles"), ("post", "check"), ("get", "audit")]:
        response = getattr(APIClient(), method)(f"{RBAC}/{path}")
        assert response.status_code == 401, path


def test_without_the_permission_it_is_403(ada):
    client, _ = ada
    for method, path in [("get", "permissions"), ("get", "roles"), ("get", "groups"), ("get", "assignments")]:
        response = getattr(client, method)(f"{RBAC}/{path}")
        assert (response.status_code, error_code(response)) == (403, "permission_denied"), path


def test_an_admin_builds_roles_groups_and_assignments_and_the_user_sees_the_effect(root, ada):
    admin, admin_id = root
    client, ada_id = ada
    assert admin.get(f"{RBAC}/permissions?limit=2").json()["next"]
    reader = admin.post(f"{RBAC}/roles", {"name": "reader", "permissions": ["users.user.view"]}, format="json")
    assert reader.status_code == 201, reader.content
    role = reader.json()
    assert role["permissions"] == ["users.user.view"] and role["parents"] == [] and not role["is_system"]
    group = admin.post(f"{RBAC}/groups", {"name": "staff"}, format="json").json()
    assert (
        admin.post(f"{RBAC}/groups/{group['id']}/members", {"user_id": str(ada_id)}, format="json").status_code == 204
    )
    granted = admin.post(
        f"{RBAC}/assignments", {"role": "reader", "group_id": group["id"], "scope": "org:acme"}, format="json"
    )
    assert granted.status_code == 201, granted.content
    assignment = granted.json()
    assert (assignment["role"], assignment["scope"], assignment["granted_by"]) == (
        role["id"],
        "org:acme",
        str(admin_id),
    )

    check = client.post(f"{RBAC}/check", {"permission": "users.user.view", "scope": "org:acme/p:1"}, format="json")
    assert check.json() == {"allowed": True}
    batch = client.post(
        f"{RBAC}/check",
        {"checks": [{"permission": "users.user.view"}, {"permission": "users.user.view", "scope": "org:acme"}]},
        format="json",
    )
    assert batch.json() == {"results": [False, True]}
    mine = client.get(f"{RBAC}/users/{ada_id}/permissions?scope=org:acme")
    assert mine.json()["permissions"] == ["users.user.view"]
    why = admin.post(
        f"{RBAC}/explain", {"permission": "users.user.view", "scope": "org:acme", "user_id": str(ada_id)}, format="json"
    )
    assert why.json()["reason"] == "granted" and why.json()["assignment"]["id"] == assignment["id"]

    assert admin.delete(f"{RBAC}/assignments/{assignment['id']}").status_code == 204
    check = client.post(f"{RBAC}/check", {"permission": "users.user.view", "scope": "org:acme"}, format="json")
    assert check.json() == {"allowed": False}
    audit = admin.get(f"{RBAC}/audit?limit=1").json()
    assert audit["results"][0]["action"] == "assignment.revoked" and audit["next"]
    assert audit["results"][0]["actor_id"] == str(admin_id)


def test_checking_someone_elses_permissions_needs_rbac_check_any(root, ada):
    admin, admin_id = root
    client, _ = ada
    body = {"permission": "rbac.role.view", "user_id": str(admin_id)}
    assert error_code(client.post(f"{RBAC}/check", body, format="json")) == "permission_denied"
    assert client.get(f"{RBAC}/users/{admin_id}/permissions").status_code == 403
    assert admin.post(f"{RBAC}/check", body, format="json").json() == {"allowed": True}


def test_granting_what_one_does_not_hold_is_403_escalation_denied(root, ada):
    admin, _ = root
    client, ada_id = ada
    manager = admin.post(f"{RBAC}/roles", {"name": "manager", "permissions": ["rbac.assignment.manage"]}, format="json")
    admin.post(f"{RBAC}/assignments", {"role": manager.json()["id"], "user_id": str(ada_id)}, format="json")
    response = client.post(f"{RBAC}/assignments", {"role": ADMIN_ROLE, "user_id": str(ada_id)}, format="json")
    assert (response.status_code, error_code(response)) == (403, "escalation_denied")


def test_conflicts_and_bad_input_have_the_contracts_codes(root):
    admin, _ = root
    admin_role = permission_service.get_role_by_name(name=ADMIN_ROLE)
    response = admin.delete(f"{RBAC}/roles/{admin_role.id}")
    assert (response.status_code, error_code(response)) == (409, "system_role_protected")
    a = admin.post(f"{RBAC}/roles", {"name": "a"}, format="json").json()
    b = admin.post(f"{RBAC}/roles", {"name": "b", "parents": [a["id"]]}, format="json").json()
    response = admin.patch(f"{RBAC}/roles/{a['id']}", {"parents": [b["id"]]}, format="json")
    assert (response.status_code, error_code(response)) == (409, "role_cycle")
    response = admin.post(f"{RBAC}/roles", {"name": "c", "permissions": ["no.such.thing"]}, format="json")
    assert (response.status_code, error_code(response)) == (400, "unknown_permission")
    assert "permissions" in response.json()["error"]["details"]
    response = admin.post(f"{RBAC}/check", {"permission": "x.y.z", "scope": "not a scope"}, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    response = admin.get(f"{RBAC}/roles/{uuid.uuid4()}")
    assert (response.status_code, error_code(response)) == (404, "role_not_found")


def test_a_scoped_manager_grants_and_revokes_in_their_scope_only(root, ada):
    admin, _ = root
    client, ada_id = ada
    manager = admin.post(
        f"{RBAC}/roles",
        {"name": "manager", "permissions": ["rbac.assignment.manage", "users.user.view"]},
        format="json",
    ).json()
    viewer = admin.post(f"{RBAC}/roles", {"name": "viewer", "permissions": ["users.user.view"]}, format="json").json()
    admin.post(
        f"{RBAC}/assignments", {"role": manager["id"], "user_id": str(ada_id), "scope": "org:acme"}, format="json"
    )
    other = str(new_user())

    granted = client.post(
        f"{RBAC}/assignments", {"role": "viewer", "user_id": other, "scope": "org:acme/project:1"}, format="json"
    )
    assert granted.status_code == 201, granted.content
    for scope in ("org:other", None):
        response = client.post(
            f"{RBAC}/assignments", {"role": "viewer", "user_id": other, "scope": scope}, format="json"
        )
        assert (response.status_code, error_code(response)) == (403, "permission_denied"), scope
    outside = admin.post(
        f"{RBAC}/assignments", {"role": viewer["id"], "user_id": other, "scope": "org:other"}, format="json"
    ).json()
    assert client.delete(f"{RBAC}/assignments/{outside['id']}").status_code == 403
    assert client.delete(f"{RBAC}/assignments/{granted.json()['id']}").status_code == 204
    assert client.get(f"{RBAC}/assignments").status_code == 403  # the whole list needs it globally


# --- Grants and memberships name real, active users (issue 16 item 3) -----------------------------


def test_a_grant_or_a_membership_for_an_unknown_or_deactivated_user_is_404_user_not_found(root):
    admin, _ = root
    admin.post(f"{RBAC}/roles", {"name": "viewer", "permissions": ["users.user.view"]}, format="json")
    group = admin.post(f"{RBAC}/groups", {"name": "staff"}, format="json").json()
    audit_before = permission_service.list_audit(limit=200).results
    for user_id in (uuid.uuid4(), new_user(active=False)):
        granted = admin.post(f"{RBAC}/assignments", {"role": "viewer", "user_id": str(user_id)}, format="json")
        joined = admin.post(f"{RBAC}/groups/{group['id']}/members", {"user_id": str(user_id)}, format="json")
        for response in (granted, joined):
            assert (response.status_code, error_code(response)) == (404, "user_not_found"), user_id
            assert response.json()["error"]["details"] == {"user_id": ["The user does not exist or is deactivated."]}
    assert permission_service.list_assignments(role_id=_role_id("viewer")).results == ()
    assert admin.get(f"{RBAC}/groups/{group['id']}/members").json() == {"user_ids": []}
    assert permission_service.list_audit(limit=200).results == audit_before


def test_the_assignment_and_membership_of_a_user_deactivated_since_are_still_removed(root):
    admin, _ = root
    admin.post(f"{RBAC}/roles", {"name": "viewer", "permissions": ["users.user.view"]}, format="json")
    group = admin.post(f"{RBAC}/groups", {"name": "staff"}, format="json").json()
    bob = new_user()
    assignment = admin.post(f"{RBAC}/assignments", {"role": "viewer", "user_id": str(bob)}, format="json").json()
    admin.post(f"{RBAC}/groups/{group['id']}/members", {"user_id": str(bob)}, format="json")
    user_service.deactivate_user(user_id=bob)
    assert admin.delete(f"{RBAC}/assignments/{assignment['id']}").status_code == 204
    assert admin.delete(f"{RBAC}/groups/{group['id']}/members?user_id={bob}").status_code == 204
    assert permission_service.list_assignments(user_id=bob).results == ()
    assert permission_service.group_members(group_id=uuid.UUID(group["id"])) == []


def _role_id(name: str) -> uuid.UUID:
    return permission_service.get_role_by_name(name=name).id


# --- Consistency (issue 16 item 13) ----------------------------------------------------------------


def test_role_parents_are_given_by_name_or_by_id(root):
    admin, _ = root
    reader = admin.post(f"{RBAC}/roles", {"name": "reader", "permissions": ["users.user.view"]}, format="json").json()
    auditor = admin.post(f"{RBAC}/roles", {"name": "auditor"}, format="json").json()
    editor = admin.post(f"{RBAC}/roles", {"name": "editor", "parents": ["reader"]}, format="json")
    assert editor.status_code == 201, editor.content
    assert editor.json()["parents"] == [reader["id"]]  # answered as ids, as before
    changed = admin.patch(f"{RBAC}/roles/{editor.json()['id']}", {"parents": ["auditor", reader["id"]]}, format="json")
    assert changed.status_code == 200, changed.content
    assert sorted(changed.json()["parents"]) == sorted([auditor["id"], reader["id"]])

    audit_before = permission_service.list_audit(limit=200).results
    for response in (
        admin.post(f"{RBAC}/roles", {"name": "x", "parents": ["ghost"]}, format="json"),
        admin.patch(f"{RBAC}/roles/{editor.json()['id']}", {"parents": ["ghost"]}, format="json"),
    ):
        assert (response.status_code, error_code(response)) == (400, "validation_error")
        assert response.json()["error"]["details"] == {"parents": ["No role named 'ghost'."]}
    assert permission_service.list_audit(limit=200).results == audit_before
    assert admin.get(f"{RBAC}/roles/{editor.json()['id']}").json()["parents"] == changed.json()["parents"]


def test_checking_a_permission_nobody_declared_is_400_unknown_permission(root, ada):
    admin, _ = root
    client, _ = ada
    response = client.post(f"{RBAC}/check", {"permission": "users.user.fly"}, format="json")
    assert (response.status_code, error_code(response)) == (400, "unknown_permission")
    assert response.json()["error"]["details"] == {"permission": ["Unknown permission: users.user.fly"]}
    checks = [{"permission": "users.user.view"}, {"permission": "users.user.fly"}, {"permission": "rbac.role.view"}]
    response = admin.post(f"{RBAC}/check", {"checks": checks}, format="json")
    assert (response.status_code, error_code(response)) == (400, "unknown_permission")
    assert response.json()["error"]["details"] == {
        "checks": {"1": {"permission": ["Unknown permission: users.user.fly"]}}
    }
    # Declared permissions still answer, allowed or not; explain still names the reason.
    assert client.post(f"{RBAC}/check", {"permission": "users.user.view"}, format="json").json() == {"allowed": False}
    assert admin.post(f"{RBAC}/check", {"checks": checks[::2]}, format="json").json() == {"results": [True, True]}
    why = admin.post(f"{RBAC}/explain", {"permission": "users.user.fly"}, format="json")
    assert (why.status_code, why.json()["reason"]) == (200, "unknown_permission")


def _denied_unknown_and_batch(client):
    checks = [{"permission": "users.user.view"}, {"permission": "users.user.fly"}, {"permission": "rbac.role.view"}]
    denied = client.post(f"{RBAC}/check", {"permission": "users.user.view"}, format="json")
    unknown = client.post(f"{RBAC}/check", {"permission": "users.user.fly"}, format="json")
    batch = client.post(f"{RBAC}/check", {"checks": checks}, format="json")
    assert denied.json() == {"allowed": False}
    assert (unknown.status_code, error_code(unknown)) == (400, "unknown_permission")
    assert batch.json()["error"]["details"] == {"checks": {"1": {"permission": ["Unknown permission: users.user.fly"]}}}


def test_a_denial_is_told_from_an_unknown_code_without_listing_the_registry(ada, monkeypatch):
    """Telling `unknown_permission` from a denial does not list the registry, as every denied
    check did before: the role graph the check itself uses knows the declared codes."""
    from permissions.local import LocalPermissionService

    def whole_registry(self):
        raise AssertionError("the whole registry was listed")

    monkeypatch.setattr(LocalPermissionService, "list_permissions", whole_registry)
    client, _ = ada
    _denied_unknown_and_batch(client)


@pytest.mark.stack  # the role graph is kept under Redis's version tokens; embedded mode keeps nothing
def test_a_warm_denial_reads_nothing_of_the_registry(ada):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, _ = ada
    client.post(f"{RBAC}/check", {"permission": "users.user.view"}, format="json")  # the caches, warm
    with CaptureQueriesContext(connection) as captured:
        _denied_unknown_and_batch(client)
    assert [q["sql"] for q in captured if Permission._meta.db_table in q["sql"]] == []


def test_the_registry_pages_cover_it_once_and_a_cursor_not_of_ours_is_a_400_on_cursor(root):
    admin, _ = root
    codes, cursor = [], None
    while True:
        page = admin.get(f"{RBAC}/permissions", {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["results"]) <= 3
        codes += [entry["code"] for entry in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert codes == [entry.code for entry in permission_service.list_permissions()]
    for bad in ("not-a-cursor", "LTE", "dHJ1ZQ", "WzFd", "%ff"):  # junk, -1, true, [1], not base64
        response = admin.get(f"{RBAC}/permissions", {"cursor": bad})
        assert (response.status_code, error_code(response)) == (400, "validation_error"), bad
        assert response.json()["error"]["details"] == {"cursor": ["Invalid cursor."]}
