"""/api/v1/users/me and /api/v1/users[/{id}] over HTTP. `users.user.view` and `users.user.manage`
come from RBAC: `admin` below holds the `admin` role (tests/permissions/test_framework_integration.py
has narrower roles)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from auth.models import Session
from permissions.interface import ADMIN_ROLE, permission_service
from tests.support.factories import PASSWORD, AssignmentFactory, RoleFactory, UserFactory
from tests.support.http import bearer, error_code, tokens_of
from users.interface import USER_DEACTIVATED, USER_UPDATED, user_service
from users.models import User

from .conftest import ME, events, status_of_me

pytestmark = pytest.mark.django_db

USERS = "/api/v1/users"
PROFILE_FIELDS = {"id", "email", "display_name", "is_verified", "is_active", "date_joined", "mfa_enabled"}


@pytest.fixture
def root(api, admin):
    return bearer(tokens_of(api, email="root@example.com")["access_token"])


@pytest.fixture
def as_ada(tokens):
    return bearer(tokens["access_token"])


# --- me ---------------------------------------------------------------------------------------------


def test_me_is_the_own_profile(api, ada, as_ada):
    response = api.get(ME, **as_ada)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROFILE_FIELDS
    assert body["id"] == str(ada.id)
    assert (body["email"], body["display_name"], body["is_verified"], body["is_active"]) == (
        "ada@example.com",
        "Ada",
        True,
        True,
    )


def test_patching_me_changes_the_display_name(api, ada, as_ada):
    response = api.patch(ME, {"display_name": "  Ada Lovelace "}, format="json", **as_ada)
    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada Lovelace"
    assert api.get(ME, **as_ada).json()["display_name"] == "Ada Lovelace"
    assert events(USER_UPDATED)[-1]["changed"] == ["display_name"]


def test_patching_me_ignores_every_other_field(api, ada, as_ada):
    """Read-only and unknown fields are ignored, as DRF does: the flags are for administrators.
    Mass assignment changes nothing. (The email is refused with a hint: the next test.)"""
    response = api.patch(
        ME,
        {
            "is_active": False,
            "is_superuser": True,
            "is_staff": True,
            "is_verified": False,
            "id": str(uuid.uuid4()),
            "password": "whatever-Long-42x",
            "unknown": 1,
        },
        format="json",
        **as_ada,
    )
    assert response.status_code == 200
    user = User.objects.get(id=ada.id)
    assert (user.email, user.is_active, user.is_superuser, user.is_staff, user.is_verified) == (
        "ada@example.com",
        True,
        False,
        False,
        True,
    )
    assert user.check_password(PASSWORD)
    assert events(USER_UPDATED) == []


@pytest.mark.parametrize("name", ["x" * 151, "tab\there", None, 7, True, ["Ada"]])
def test_a_bad_display_name_is_400_and_changes_nothing(api, ada, as_ada, name):
    response = api.patch(ME, {"display_name": name}, format="json", **as_ada)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "display_name" in response.json()["error"]["details"]
    assert User.objects.get(id=ada.id).display_name == "Ada"


def test_me_needs_a_token(api, db):
    assert api.get(ME).status_code == 401
    assert api.patch(ME, {"display_name": "x"}, format="json").status_code == 401


# --- list -------------------------------------------------------------------------------------------


def make_users(n: int, prefix: str = "user") -> None:
    for i in range(n):
        UserFactory(email=f"{prefix}{i:03d}@example.com", display_name=f"{prefix.title()} {i}")


def test_a_plain_user_may_not_list_users(api, as_ada):
    response = api.get(USERS, **as_ada)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


def test_listing_users_needs_a_token(api, db):
    assert api.get(USERS).status_code == 401


def test_a_superuser_lists_users_newest_first_in_pages_of_50(api, ada, root):
    make_users(53)
    first = api.get(USERS, **root)
    assert first.status_code == 200
    page = first.json()
    assert len(page["results"]) == 50
    assert set(page["results"][0]) == PROFILE_FIELDS
    assert page["next"]
    rest = api.get(USERS, {"cursor": page["next"]}, **root).json()
    assert rest["next"] is None
    emails = [u["email"] for u in page["results"] + rest["results"]]
    assert len(emails) == len(set(emails)) == 55  # 53 + ada + root
    joined = [u["date_joined"] for u in page["results"] + rest["results"]]
    assert joined == sorted(joined, reverse=True)


def test_limit_is_at_least_1_and_clamped_to_200(api, root):
    make_users(3)
    assert len(api.get(USERS, {"limit": 2}, **root).json()["results"]) == 2
    assert api.get(USERS, {"limit": 200}, **root).status_code == 200
    assert api.get(USERS, {"limit": 201}, **root).status_code == 200  # clamped (issue 16, item 13)
    for bad in (0, -1, "ten"):
        response = api.get(USERS, {"limit": bad}, **root)
        assert response.status_code == 400, bad
        assert error_code(response) == "validation_error"
        assert "limit" in response.json()["error"]["details"]


def test_a_bad_cursor_is_400(api, root):
    response = api.get(USERS, {"cursor": "not-a-cursor"}, **root)
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["details"]


def test_search_matches_email_or_display_name_case_insensitively(api, root):
    make_users(3, prefix="grace")
    make_users(2, prefix="alan")
    by_email = api.get(USERS, {"search": "GRACE00"}, **root).json()["results"]
    assert sorted(u["email"] for u in by_email) == [f"grace{i:03d}@example.com" for i in range(3)]
    by_name = api.get(USERS, {"search": "alan 1"}, **root).json()["results"]
    assert [u["email"] for u in by_name] == ["alan001@example.com"]


def test_is_active_filters(api, ada, root):
    user_service.deactivate_user(user_id=ada.id)
    inactive = api.get(USERS, {"is_active": "false"}, **root).json()["results"]
    assert [u["email"] for u in inactive] == ["ada@example.com"]
    active = api.get(USERS, {"is_active": "true"}, **root).json()["results"]
    assert [u["email"] for u in active] == ["root@example.com"]
    assert api.get(USERS, {"is_active": "perhaps"}, **root).status_code == 400


def test_filters_hold_across_pages(api, root):
    make_users(5, prefix="grace")
    make_users(5, prefix="alan")
    seen, cursor = [], None
    while True:
        params = {"search": "grace", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get(USERS, params, **root).json()
        seen += [u["email"] for u in page["results"]]
        if not (cursor := page["next"]):
            break
    assert sorted(seen) == [f"grace{i:03d}@example.com" for i in range(5)]


# --- detail -----------------------------------------------------------------------------------------


def test_a_plain_user_may_not_read_change_or_delete_users_even_themselves(api, ada, as_ada):
    url = f"{USERS}/{ada.id}"
    assert api.get(url, **as_ada).status_code == 403
    assert api.patch(url, {"display_name": "x"}, format="json", **as_ada).status_code == 403
    assert api.delete(url, **as_ada).status_code == 403
    assert User.objects.get(id=ada.id).display_name == "Ada"
    assert User.objects.get(id=ada.id).is_active


def test_a_deactivated_admin_holds_no_permission(api, admin, root, deliver_events):
    user_service.deactivate_user(user_id=admin.id)
    deliver_events()
    assert api.get(USERS, **root).status_code == 401  # its sessions are revoked
    assert not permission_service.check(user_id=admin.id, permission="users.user.view")  # and RBAC denies


def test_a_superuser_reads_a_user(api, ada, root):
    response = api.get(f"{USERS}/{ada.id}", **root)
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


def test_a_superuser_updates_a_user(api, ada, root):
    response = api.patch(
        f"{USERS}/{ada.id}",
        {"display_name": "Countess", "is_verified": False, "is_superuser": True},
        format="json",
        **root,
    )
    assert response.status_code == 200
    assert (response.json()["display_name"], response.json()["is_verified"]) == ("Countess", False)
    assert User.objects.get(id=ada.id).is_superuser is False


def test_an_update_to_a_taken_email_is_409_and_changes_nothing(api, ada, admin, root):
    response = api.patch(f"{USERS}/{ada.id}", {"email": "ROOT@example.com"}, format="json", **root)
    assert response.status_code == 409
    assert error_code(response) == "email_taken"
    assert User.objects.get(id=ada.id).email == "ada@example.com"


def test_an_update_with_a_bad_email_is_400(api, ada, root):
    response = api.patch(f"{USERS}/{ada.id}", {"email": "nope"}, format="json", **root)
    assert response.status_code == 400
    assert "email" in response.json()["error"]["details"]


def test_delete_deactivates_and_the_sessions_stop_working_at_once(api, ada, as_ada, root):
    other = tokens_of(api)

    response = api.delete(f"{USERS}/{ada.id}", **root)

    assert response.status_code == 204
    assert User.objects.get(id=ada.id).is_active is False
    assert status_of_me(api, as_ada["HTTP_AUTHORIZATION"].split()[1]) == 401
    assert status_of_me(api, other["access_token"]) == 401
    assert (
        api.post("/api/v1/auth/token/refresh", {"refresh_token": other["refresh_token"]}, format="json").status_code
        == 401
    )
    assert not Session.objects.filter(user_id=ada.id, revoked_at__isnull=True).exists()
    assert events(USER_DEACTIVATED) == [{"user_id": str(ada.id)}]
    # The account stays, inactive: it can no longer log in.
    assert api.get(f"{USERS}/{ada.id}", **root).json()["is_active"] is False
    assert (
        api.post("/api/v1/auth/token", {"email": "ada@example.com", "password": PASSWORD}, format="json").status_code
        == 403
    )


def test_delete_is_idempotent(api, ada, root):
    assert api.delete(f"{USERS}/{ada.id}", **root).status_code == 204
    assert api.delete(f"{USERS}/{ada.id}", **root).status_code == 204
    assert len(events(USER_DEACTIVATED)) == 1


def test_the_deactivation_event_handler_revokes_sessions_too(api, ada, deliver_events):
    """Deactivations that do not come through this API (admin, gRPC callers) rely on the
    users.user_deactivated handler."""
    tokens = tokens_of(api)
    user_service.deactivate_user(user_id=ada.id)
    deliver_events()
    assert status_of_me(api, tokens["access_token"]) == 401
    assert Session.objects.get(user_id=ada.id).revoke_reason == "deactivated"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_user_is_a_404_envelope(api, root, method):
    response = getattr(api, method)(f"{USERS}/{uuid.uuid4()}", {}, format="json", **root)
    assert response.status_code == 404
    assert error_code(response) == "user_not_found"


def test_a_malformed_user_id_is_a_404_envelope(api, root):
    response = api.get(f"{USERS}/12345", **root)
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_date_joined_is_rfc3339_utc(api, ada, as_ada):
    User.objects.filter(id=ada.id).update(date_joined=timezone.now() - timedelta(days=3))
    assert api.get(ME, **as_ada).json()["date_joined"].endswith("Z")


# --- The escalation rule covers user management (issue 15, item 1) ----------------------------------


@pytest.fixture
def manager(api, db):
    """Holds users.user.view and users.user.manage globally, nothing else: a help-desk account."""
    user = UserFactory(email="desk@example.com")
    AssignmentFactory(
        role=RoleFactory(name="helpdesk", permissions=["users.user.view", "users.user.manage"]), user_id=user.id
    )
    return bearer(tokens_of(api, email="desk@example.com")["access_token"])


def test_a_manager_cannot_take_over_an_admin_by_changing_their_email(api, admin, manager):
    before = User.objects.get(id=admin.id)
    response = api.patch(
        f"{USERS}/{admin.id}", {"email": "attacker@evil.example", "is_verified": True}, format="json", **manager
    )
    assert response.status_code == 403, response.content
    assert error_code(response) == "escalation_denied"
    after = User.objects.get(id=admin.id)
    assert (after.email, after.is_verified) == (before.email, before.is_verified)
    # And so the reset the attacker would send next goes nowhere of theirs.
    assert api.post("/api/v1/auth/password/reset", {"email": "attacker@evil.example"}, format="json").status_code == 202
    assert not User.objects.filter(email="attacker@evil.example").exists()


def test_a_manager_cannot_deactivate_an_admin(api, admin, manager):
    response = api.delete(f"{USERS}/{admin.id}", **manager)
    assert (response.status_code, error_code(response)) == (403, "escalation_denied")
    assert User.objects.get(id=admin.id).is_active
    assert status_of_me(api, tokens_of(api, email="root@example.com")["access_token"]) == 200


def test_a_permission_held_only_in_a_scope_counts_too(api, ada, manager):
    AssignmentFactory(
        role=RoleFactory(name="auditor", permissions=["rbac.audit.view"]), user_id=ada.id, scope="org:acme"
    )
    response = api.patch(f"{USERS}/{ada.id}", {"display_name": "Eve"}, format="json", **manager)
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"missing_permissions": ["rbac.audit.view"], "scope": "org:acme"}
    assert User.objects.get(id=ada.id).display_name == "Ada"


def test_a_manager_still_manages_users_who_hold_no_more_than_they_do(api, ada, manager):
    assert api.patch(f"{USERS}/{ada.id}", {"display_name": "Ada L."}, format="json", **manager).status_code == 200
    assert api.delete(f"{USERS}/{ada.id}", **manager).status_code == 204


def test_an_admin_still_manages_an_admin(api, admin, root):
    other = UserFactory(email="other-root@example.com", roles=[ADMIN_ROLE])
    assert api.patch(f"{USERS}/{other.id}", {"display_name": "Other"}, format="json", **root).status_code == 200


def test_a_limit_above_the_page_maximum_is_clamped_not_refused(api, root):
    """Issue 16 item 13: `?limit=` above the maximum gives a full page, as the contract's
    pagination implies; below 1 it is still a validation error."""
    from users.interface import MAX_PAGE_SIZE

    assert api.get(f"/api/v1/users?limit={MAX_PAGE_SIZE * 10}", **root).status_code == 200
    assert api.get("/api/v1/rbac/roles?limit=100000", **root).status_code == 200
    assert api.get("/api/v1/notifications?limit=100000", **root).status_code == 200
    assert api.get("/api/v1/users?limit=0", **root).status_code == 400


def test_patching_my_email_says_how_an_email_is_changed(api, ada):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_of(api)['access_token']}")
    response = api.patch(ME, {"email": "new@example.com"}, format="json")
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert "link mailed to the new address" in response.json()["error"]["details"]["email"][0]
    assert api.get(ME).json()["email"] == "ada@example.com"
