"""RBAC from Django and DRF code: RequiresPermission, permission_required, user.has_perm and the
Django admin, through the real HTTP path and the real engine."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings
from django.contrib import admin as django_admin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from gateway.permissions import OBJECT, RequiresPermission, permission_required
from permissions.backends import DJANGO_PERMISSIONS, RbacBackend
from permissions.interface import ADMIN_ROLE, declared_permissions, permission_service
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import client_for, error_code
from tests.support.rbac import grant_role
from users.interface import user_service
from users.models import User

from .conftest import grant, role

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

USERS = "/api/v1/users"


def fresh(user) -> User:
    """The user row as a new request would load it (Django caches permissions on the object)."""
    return User.objects.get(id=user.id)


def error(response) -> tuple[int, str]:
    return response.status_code, error_code(response)


@dataclass(frozen=True)
class Doc:
    rbac_scope: str | None


class Project:
    def __init__(self, org: str, number: int):
        self.org, self.number = org, number

    def rbac_scope(self) -> str:
        return f"org:{self.org}/project:{self.number}"


@pytest.fixture
def ada():
    return UserFactory(email="ada@example.com")


@pytest.fixture
def grace():
    return UserFactory(email="grace@example.com")


# --- DRF: RequiresPermission on the users API ------------------------------------------------------


def test_a_user_holding_users_user_view_reads_users_but_cannot_change_them(ada, grace):
    grant(role("user-viewer", ["users.user.view"]), user_id=ada.id)
    client = client_for(ada)

    assert client.get(USERS).status_code == 200
    assert client.get(f"{USERS}/{grace.id}").json()["email"] == "grace@example.com"
    response = client.patch(f"{USERS}/{grace.id}", {"display_name": "Countess"}, format="json")
    assert error(response) == (403, "permission_denied")
    assert "users.user.manage" in response.json()["error"]["message"]
    assert error(client.delete(f"{USERS}/{grace.id}")) == (403, "permission_denied")
    assert user_service.get_user(user_id=grace.id).display_name == ""


def test_with_users_user_manage_the_same_user_may_change_them(ada, grace):
    grant(role("user-viewer", ["users.user.view"]), user_id=ada.id)
    grant(role("user-manager", ["users.user.manage"]), user_id=ada.id)
    response = client_for(ada).patch(f"{USERS}/{grace.id}", {"display_name": "Countess"}, format="json")
    assert response.status_code == 200
    assert user_service.get_user(user_id=grace.id).display_name == "Countess"


def test_is_superuser_alone_grants_nothing_the_admin_role_does(grace):
    root = UserFactory(email="root@example.com", is_superuser=True, is_staff=True)
    client = client_for(root)
    assert error(client.get(USERS)) == (403, "permission_denied")
    grant_role(root.id)
    assert client.get(USERS).status_code == 200
    assert client.get("/api/v1/rbac/roles").status_code == 200


def test_without_a_token_it_is_401_and_without_any_role_403(ada):
    assert error(APIClient().get(USERS)) == (401, "not_authenticated")
    assert error(client_for(ada).get(USERS)) == (403, "permission_denied")


def test_a_scoped_users_user_view_does_not_open_the_global_user_list(ada):
    grant(role("user-viewer", ["users.user.view"]), user_id=ada.id, scope="org:acme")
    assert error(client_for(ada).get(USERS)) == (403, "permission_denied")


def test_a_revoke_takes_effect_at_once(ada):
    assignment = grant(role("user-viewer", ["users.user.view"]), user_id=ada.id)
    client = client_for(ada)
    assert client.get(USERS).status_code == 200
    permission_service.revoke_assignment(actor_id=None, assignment_id=assignment.id)
    assert error(client.get(USERS)) == (403, "permission_denied")


# --- DRF: scopes from the request, and objects ------------------------------------------------------


def test_the_scope_comes_from_the_url_and_holds_in_and_under_the_assignment(ada, codes):
    grant(role("reader", ["docs.page.read"]), user_id=ada.id, scope="org:acme")
    client = client_for(ada)
    assert client.get("/api/v1/probe/drf/orgs/acme/docs").json() == {"org": "acme"}
    assert error(client.get("/api/v1/probe/drf/orgs/acmex/docs")) == (403, "permission_denied")
    # The mapping by method: writing needs docs.page.write, which ada does not hold.
    assert error(client.post("/api/v1/probe/drf/orgs/acme/docs", {}, format="json")) == (403, "permission_denied")


def test_a_bad_scope_from_the_request_is_a_400_envelope_not_a_500(ada, codes):
    grant(role("reader", ["docs.page.read"]), user_id=ada.id)
    response = client_for(ada).get("/api/v1/probe/drf/orgs/acme!/docs")
    assert error(response) == (400, "validation_error")
    assert "scope" in response.json()["error"]["details"]


def test_object_level_checks_use_the_objects_scope(ada, codes):
    grant(role("reader", ["docs.page.read"]), user_id=ada.id, scope="org:acme")
    client = client_for(ada)
    assert client.get("/api/v1/probe/drf/docs/a").status_code == 200  # org:acme/project:1
    assert error(client.get("/api/v1/probe/drf/docs/b")) == (403, "permission_denied")  # org:beta
    assert error(client.get("/api/v1/probe/drf/docs/g")) == (403, "permission_denied")  # global
    assert error(APIClient().get("/api/v1/probe/drf/docs/a")) == (401, "not_authenticated")


def test_an_instance_goes_straight_into_permission_classes():
    permission = RequiresPermission({"GET": "docs.page.read", "*": "docs.page.write"})
    assert permission() is permission
    assert [permission.code_for(m) for m in ("GET", "HEAD", "POST", "OPTIONS")] == [
        "docs.page.read",
        "docs.page.read",
        "docs.page.write",
        "docs.page.write",
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        ("Docs.page.read",),
        ("docs.read",),
        ({"GET": "docs.page.read"},),  # no '*' for the other methods
        ("docs.page.read", 42),
    ],
)
def test_a_malformed_declaration_fails_at_import_time(arguments):
    with pytest.raises((ValueError, TypeError)):
        RequiresPermission(*arguments)


def test_the_decorator_refuses_what_it_cannot_check():
    with pytest.raises(ValueError):
        permission_required("docs.read")
    with pytest.raises(TypeError):
        permission_required("docs.page.read", scope=OBJECT)


# --- Plain Django views: permission_required ----------------------------------------------------------


def test_the_decorator_answers_api_views_with_the_envelope(ada, codes):
    assert error(APIClient().get("/api/v1/probe/docs")) == (401, "not_authenticated")
    client = client_for(ada)
    assert error(client.get("/api/v1/probe/docs")) == (403, "permission_denied")
    grant(role("reader", ["docs.page.read"]), user_id=ada.id, scope="org:acme")
    assert error(client.get("/api/v1/probe/docs")) == (403, "permission_denied")  # global: not held
    assert client.get("/api/v1/probe/docs", {"scope": "org:acme/project:7"}).json() == {"ok": True}
    assert error(client.get("/api/v1/probe/docs", {"scope": "org:beta"})) == (403, "permission_denied")
    response = client.get("/api/v1/probe/docs", {"scope": "not a scope"})
    assert error(response) == (400, "validation_error")
    assert "scope" in response.json()["error"]["details"]


def test_the_decorator_takes_the_scope_from_the_url(ada, codes):
    grant(role("reader", ["docs.page.read"]), user_id=ada.id, scope="org:acme")
    client = client_for(ada)
    assert client.get("/api/v1/probe/orgs/acme/docs").json() == {"org": "acme"}
    assert error(client.get("/api/v1/probe/orgs/beta/docs")) == (403, "permission_denied")


def test_the_decorator_on_a_page_follows_django_login_redirect_and_403(client, ada, codes):
    anonymous = client.get("/probe/docs")
    assert anonymous.status_code == 302
    assert "/login" in anonymous["Location"]
    client.force_login(fresh(ada))
    assert client.get("/probe/docs").status_code == 403
    grant(role("reader", ["docs.page.read"]), user_id=ada.id)
    assert client.get("/probe/docs").content == b"<p>docs</p>"


# --- user.has_perm through the backend ---------------------------------------------------------------


def test_has_perm_asks_rbac_for_a_code_globally(ada):
    assert not fresh(ada).has_perm("users.user.view")
    grant(role("user-viewer", ["users.user.view"]), user_id=ada.id)
    user = fresh(ada)
    assert user.has_perm("users.user.view")
    assert not user.has_perm("users.user.manage")
    assert user.has_perms(["users.user.view"])
    assert not user.has_perms(["users.user.view", "users.user.manage"])


def test_has_perm_with_an_object_asks_in_its_scope_and_below_never_outside(ada, codes):
    grant(role("reader", ["docs.page.read"]), user_id=ada.id, scope="org:acme")
    user = fresh(ada)
    assert user.has_perm("docs.page.read", Doc("org:acme"))
    assert user.has_perm("docs.page.read", Doc("org:acme/project:42"))
    assert user.has_perm("docs.page.read", Project("acme", 42))  # rbac_scope as a method
    assert not user.has_perm("docs.page.read", Doc("org:acmex"))
    assert not user.has_perm("docs.page.read", Doc("org:beta/project:42"))
    assert not user.has_perm("docs.page.read", Doc(None))  # global: only global assignments
    assert not user.has_perm("docs.page.read", object())  # no scope: global
    assert not user.has_perm("docs.page.read")
    assert not user.has_perm("docs.page.read", Doc("not a scope"))  # denied, not raised


segments = st.builds(
    "{}:{}".format, st.sampled_from(["org", "project", "team"]), st.sampled_from(["a", "b", "ab", "a-1"])
)
paths = st.lists(segments, max_size=3).map(lambda s: "/".join(s) or None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(held=paths, asked=paths)
def test_has_perm_with_an_object_follows_the_segment_wise_rule(ada, codes, held, asked):
    assignment = grant(role("reader-" + str(abs(hash((held, asked)))), ["docs.page.read"]), user_id=ada.id, scope=held)
    try:
        expected = held is None or (asked is not None and (asked == held or asked.startswith(held + "/")))
        assert fresh(ada).has_perm("docs.page.read", Doc(asked)) is expected
        assert expected is permission_service.check(user_id=ada.id, permission="docs.page.read", scope=asked)
    finally:
        permission_service.revoke_assignment(actor_id=None, assignment_id=assignment.id)


def test_django_codenames_map_to_rbac_codes(ada):
    grant(role("user-viewer", ["users.user.view"]), user_id=ada.id)
    user = fresh(ada)
    assert user.has_perm("users.view_user")
    assert not user.has_perm("users.change_user")
    grant(role("user-manager", ["users.user.manage"]), user_id=ada.id)
    user = fresh(ada)
    assert user.has_perm("users.add_user") and user.has_perm("users.change_user") and user.has_perm("users.delete_user")


def test_every_mapped_code_is_declared():
    assert set(DJANGO_PERMISSIONS.values()) <= set(declared_permissions())


def test_every_model_in_the_admin_is_mapped_for_viewing():
    for model in django_admin.site._registry:
        if model._meta.app_label in {"auth"}:
            continue  # django.contrib.auth's own Group: the admin role only
        assert f"{model._meta.app_label}.view_{model._meta.model_name}" in DJANGO_PERMISSIONS, model


def test_unmapped_codenames_are_denied_except_to_the_admin_role(ada):
    grant(role("user-manager", ["users.user.view", "users.user.manage"]), user_id=ada.id)
    assert not fresh(ada).has_perm("auth.view_group")
    assert not fresh(ada).has_perm("sessions.view_session")
    grant_role(ada.id)
    user = fresh(ada)
    assert user.has_perm("auth.view_group")
    assert user.has_module_perms("auth")


def test_has_module_perms_is_any_mapped_code_of_the_app(ada):
    grant(role("role-viewer", ["rbac.role.view"]), user_id=ada.id)
    user = fresh(ada)
    assert user.has_module_perms("permissions")
    assert not user.has_module_perms("users")
    assert not user.has_module_perms("notifications")


def test_an_inactive_user_holds_nothing_whatever_its_roles(ada):
    grant_role(ada.id)
    User.objects.filter(id=ada.id).update(is_active=False)
    user = fresh(ada)
    assert not user.has_perm("users.user.view")
    assert not user.has_module_perms("users")


def test_a_revoke_shows_to_the_next_request(ada):
    assignment = grant(role("user-viewer", ["users.user.view"]), user_id=ada.id)
    assert fresh(ada).has_perm("users.user.view")
    permission_service.revoke_assignment(actor_id=None, assignment_id=assignment.id)
    assert not fresh(ada).has_perm("users.user.view")


def test_the_backend_authenticates_nobody(ada):
    assert RbacBackend().authenticate(None, username="ada@example.com", password=PASSWORD) is None
    assert django_settings.AUTHENTICATION_BACKENDS[-1] == "permissions.backends.RbacBackend"


# --- The Django admin, governed by RBAC --------------------------------------------------------------


def signed_in(client, user):
    client.force_login(fresh(user))
    return client


def test_staff_with_only_rbac_role_view_sees_roles_read_only_and_not_users(client, codes):
    staff = UserFactory(email="staff@example.com", is_staff=True)
    grant(role("role-viewer", ["rbac.role.view"]), user_id=staff.id)
    reader = role("reader", ["docs.page.read"])
    signed_in(client, staff)

    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"/admin/permissions/role/" in index.content
    assert b"/admin/users/user/" not in index.content
    assert b"/admin/permissions/assignment/" not in index.content
    assert client.get("/admin/permissions/role/").status_code == 200
    change = client.get(f"/admin/permissions/role/{reader.id}/change/")
    assert change.status_code == 200
    assert b'name="_save"' not in change.content  # read-only
    assert client.get("/admin/permissions/role/add/").status_code == 403
    response = client.post(f"/admin/permissions/role/{reader.id}/change/", {"name": "renamed"})
    assert response.status_code == 403
    assert client.get("/admin/users/user/").status_code == 403


def test_staff_without_any_role_sees_nothing_in_the_admin(client):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    signed_in(client, staff)
    index = client.get("/admin/")
    assert index.status_code == 200
    held = permission_service.effective_permissions(user_id=staff.id)
    assert b"/admin/users/user/" not in index.content, (held, index.content.decode()[-4000:])
    assert b"/admin/permissions/" not in index.content, (held, index.content.decode()[-4000:])
    for path in ("/admin/users/user/", "/admin/permissions/role/", "/admin/gatehouse_auth/session/"):
        assert client.get(path).status_code == 403, (path, held)


def test_the_admin_role_sees_every_model(client):
    staff = UserFactory(email="staff@example.com", is_staff=True, roles=[ADMIN_ROLE])
    signed_in(client, staff)
    index = client.get("/admin/").content.decode()
    for model in django_admin.site._registry:
        path = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert path in index, path
        assert client.get(path).status_code == 200, path


def test_the_admin_role_without_the_staff_flag_does_not_open_the_admin(client, ada):
    grant_role(ada.id)
    signed_in(client, ada)
    assert client.get("/admin/").status_code == 302  # to the login page


def test_a_session_viewer_cannot_revoke_sessions_from_the_admin(client, ada):
    staff = UserFactory(email="staff@example.com", is_staff=True)
    grant(role("session-viewer", ["auth.session.view"]), user_id=staff.id)
    client_for(ada)  # a session to look at
    signed_in(client, staff)
    listing = client.get("/admin/gatehouse_auth/session/")
    assert listing.status_code == 200
    assert b'value="revoke"' not in listing.content
    assert b"ada@example.com" in listing.content and str(ada.id).encode() not in listing.content
    [session] = listing.context["cl"].result_list
    page = client.get(f"/admin/gatehouse_auth/session/{session.id}/change/").content.decode()
    assert f"session {session.id} of ada@example.com" in page and str(ada.id) not in page
    grant(role("session-manager", ["auth.session.view", "auth.session.manage"]), user_id=staff.id)
    assert b'value="revoke"' in client.get("/admin/gatehouse_auth/session/").content
