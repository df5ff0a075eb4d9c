"""Logout (bearer or refresh token) and the sessions endpoints: list own, revoke one, revoke the others."""

import uuid

import pytest
from django.conf import settings as django_settings

from auth.interface import SESSION_REVOKED
from auth.models import Session
from tests.support.factories import UserFactory
from tests.support.http import bearer, error_code, login, tokens_of

from .conftest import events, sid_of, status_of_me

pytestmark = pytest.mark.django_db

LOGOUT = "/api/v1/auth/logout"
SESSIONS = "/api/v1/auth/sessions"


def refresh_status(api, token) -> int:
    return api.post("/api/v1/auth/token/refresh", {"refresh_token": token}, format="json").status_code


# --- logout ---------------------------------------------------------------------------------------


def test_logout_with_the_bearer_token_ends_the_session_at_once(api, tokens):
    response = api.post(LOGOUT, **bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert response.content == b""
    assert status_of_me(api, tokens["access_token"]) == 401
    assert refresh_status(api, tokens["refresh_token"]) == 401
    session = Session.objects.get()
    assert session.revoke_reason == "logout"
    assert events(SESSION_REVOKED)[-1]["session_ids"] == [str(session.id)]


def test_logout_with_the_refresh_token_ends_the_session_at_once(api, tokens):
    response = api.post(LOGOUT, {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 204
    assert status_of_me(api, tokens["access_token"]) == 401
    assert refresh_status(api, tokens["refresh_token"]) == 401


def test_logout_ends_only_its_own_session(api, ada):
    leaving, staying = tokens_of(api), tokens_of(api)
    assert api.post(LOGOUT, **bearer(leaving["access_token"])).status_code == 204
    assert status_of_me(api, staying["access_token"]) == 200
    assert refresh_status(api, staying["refresh_token"]) == 200


def test_logout_without_a_token_is_401(api, tokens):
    response = api.post(LOGOUT, {}, format="json")
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert status_of_me(api, tokens["access_token"]) == 200


def test_logout_with_an_unknown_refresh_token_is_401_and_ends_nothing(api, tokens):
    response = api.post(LOGOUT, {"refresh_token": "not-a-refresh-token"}, format="json")
    assert response.status_code == 401
    assert status_of_me(api, tokens["access_token"]) == 200


def test_logout_with_a_revoked_bearer_token_is_401(api, tokens):
    api.post(LOGOUT, **bearer(tokens["access_token"]))
    assert api.post(LOGOUT, **bearer(tokens["access_token"])).status_code == 401
    assert len(events(SESSION_REVOKED)) == 1


# --- sessions -------------------------------------------------------------------------------------


def test_the_list_shows_own_active_sessions_with_the_current_one_flagged(api, ada):
    older = tokens_of(api, HTTP_USER_AGENT="Firefox/128", REMOTE_ADDR="198.51.100.1")
    current = tokens_of(api, HTTP_USER_AGENT="curl/8", REMOTE_ADDR="198.51.100.2")
    ended = tokens_of(api)
    api.post(LOGOUT, **bearer(ended["access_token"]))
    UserFactory(email="bob@example.com")
    tokens_of(api, email="bob@example.com")

    response = api.get(SESSIONS, **bearer(current["access_token"]))

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    results = body["results"]
    assert [(s["user_agent"], s["ip"], s["current"]) for s in results] == [
        ("curl/8", "198.51.100.2", True),
        ("Firefox/128", "198.51.100.1", False),
    ]
    assert set(results[0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "ip",
        "user_agent",
        "current",
        "kind",
        "client_id",
        "client_name",
    }
    assert {(s["kind"], s["client_id"]) for s in results} == {("api", "")}
    assert all(s[field].endswith("Z") for s in results for field in ("created_at", "last_used_at", "expires_at"))
    assert [s["id"] for s in results] == [sid_of(current["access_token"]), sid_of(older["access_token"])]


def test_the_list_needs_a_token(api, db):
    assert api.get(SESSIONS).status_code == 401


def test_deleting_a_session_revokes_it_and_only_it(api, ada):
    other, current = tokens_of(api), tokens_of(api)
    other_id = sid_of(other["access_token"])

    response = api.delete(f"{SESSIONS}/{other_id}", **bearer(current["access_token"]))

    assert response.status_code == 204
    assert status_of_me(api, other["access_token"]) == 401
    assert refresh_status(api, other["refresh_token"]) == 401
    assert status_of_me(api, current["access_token"]) == 200
    listed = api.get(SESSIONS, **bearer(current["access_token"])).json()["results"]
    assert [s["id"] for s in listed] == [sid_of(current["access_token"])]


def test_deleting_the_current_session_logs_out(api, tokens):
    sid = sid_of(tokens["access_token"])
    assert api.delete(f"{SESSIONS}/{sid}", **bearer(tokens["access_token"])).status_code == 204
    assert status_of_me(api, tokens["access_token"]) == 401


def test_another_users_session_is_404_and_stays_alive(api, ada):
    UserFactory(email="bob@example.com")
    bob = tokens_of(api, email="bob@example.com")
    mine = tokens_of(api)

    response = api.delete(f"{SESSIONS}/{sid_of(bob['access_token'])}", **bearer(mine["access_token"]))

    assert response.status_code == 404
    assert error_code(response) == "session_not_found"
    assert status_of_me(api, bob["access_token"]) == 200


def test_an_unknown_or_already_revoked_session_is_404(api, ada):
    ended, current = tokens_of(api), tokens_of(api)
    api.post(LOGOUT, **bearer(ended["access_token"]))
    for sid in [uuid.uuid4(), sid_of(ended["access_token"])]:
        response = api.delete(f"{SESSIONS}/{sid}", **bearer(current["access_token"]))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "session_not_found"


def test_a_malformed_session_id_is_a_json_404(api, tokens):
    response = api.delete(f"{SESSIONS}/not-a-uuid", **bearer(tokens["access_token"]))
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_deleting_all_sessions_revokes_every_other_one_but_keeps_the_current(api, ada):
    others = [tokens_of(api) for _ in range(2)]
    current = tokens_of(api)
    UserFactory(email="bob@example.com")
    bob = tokens_of(api, email="bob@example.com")

    response = api.delete(SESSIONS, **bearer(current["access_token"]))

    assert response.status_code == 200
    assert response.json() == {"revoked": 2}
    assert [status_of_me(api, t["access_token"]) for t in others] == [401, 401]
    assert status_of_me(api, current["access_token"]) == 200
    assert status_of_me(api, bob["access_token"]) == 200
    assert [s["current"] for s in api.get(SESSIONS, **bearer(current["access_token"])).json()["results"]] == [True]


def test_login_records_the_client_ip_and_user_agent(api, ada):
    login(api, HTTP_USER_AGENT="x" * 600, REMOTE_ADDR="2001:db8::1")
    session = Session.objects.get()
    assert session.ip == "2001:db8::1"
    assert len(session.user_agent) == 512
    assert session.expires_at > session.created_at
    assert (session.expires_at - session.created_at).total_seconds() >= django_settings.GATEHOUSE_REFRESH_TOKEN_TTL - 5


def test_the_list_is_most_recently_used_first(api, ada):
    first, second = tokens_of(api), tokens_of(api)
    api.post("/api/v1/auth/token/refresh", {"refresh_token": first["refresh_token"]}, format="json")
    listed = api.get(SESSIONS, **bearer(second["access_token"])).json()["results"]
    assert [s["id"] for s in listed] == [sid_of(first["access_token"]), sid_of(second["access_token"])]
    assert listed[0]["last_used_at"] > listed[0]["created_at"]
