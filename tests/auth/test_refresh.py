"""POST /api/v1/auth/token/refresh: rotation, reuse detection that revokes the whole session, and
the short grace window for a client that lost the response."""

from datetime import timedelta

import pytest
from django.utils import timezone

from auth.core.crypto import token_hash
from auth.interface import REFRESH_TOKEN_REUSED, SESSION_REVOKED
from auth.models import RefreshToken, Session
from tests.support.http import error_code
from users.interface import user_service
from users.models import User

from .conftest import events, status_of_me

pytestmark = pytest.mark.django_db

REFRESH = "/api/v1/auth/token/refresh"


def refresh(api, token, **environ):
    return api.post(REFRESH, {"refresh_token": token}, format="json", **environ)


def usable_refresh_tokens() -> int:
    return RefreshToken.objects.filter(used_at__isnull=True, session__revoked_at__isnull=True).count()


def outside_the_grace_window(token: str, settings) -> None:
    RefreshToken.objects.filter(token_hash=token_hash(token)).update(
        used_at=timezone.now() - timedelta(seconds=settings.GATEHOUSE_REFRESH_REUSE_GRACE + 1)
    )


def test_refresh_returns_a_new_pair_and_spends_the_old_refresh_token(api, tokens):
    response = refresh(api, tokens["refresh_token"], HTTP_USER_AGENT="agent/2", REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    fresh = response.json()
    assert set(fresh) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert status_of_me(api, fresh["access_token"]) == 200
    # Same session: the earlier access token stays valid until it expires.
    assert status_of_me(api, tokens["access_token"]) == 200
    assert usable_refresh_tokens() == 1
    session = Session.objects.get()
    assert (session.user_agent, session.ip) == ("agent/2", "198.51.100.4")
    # The new one rotates in turn.
    assert refresh(api, fresh["refresh_token"]).status_code == 200


def test_reuse_of_a_rotated_token_revokes_the_whole_session(api, tokens, ada, settings):
    fresh = refresh(api, tokens["refresh_token"]).json()
    outside_the_grace_window(tokens["refresh_token"], settings)

    reused = refresh(api, tokens["refresh_token"])

    assert reused.status_code == 401
    assert error_code(reused) == "invalid_token"
    # Every token of the family is dead: both access tokens, on the very next request, and the
    # newest refresh token.
    assert status_of_me(api, fresh["access_token"]) == 401
    assert status_of_me(api, tokens["access_token"]) == 401
    assert refresh(api, fresh["refresh_token"]).status_code == 401
    session = Session.objects.get()
    assert session.revoked_at is not None
    assert session.revoke_reason == "refresh_token_reused"
    [reuse] = events(REFRESH_TOKEN_REUSED)
    assert reuse["session_id"] == str(session.id)
    assert reuse["user_id"] == str(ada.id)
    assert events(SESSION_REVOKED)[-1]["session_ids"] == [str(session.id)]


def test_reuse_revokes_only_that_session(api, ada, settings):
    from tests.support.http import tokens_of

    stolen, other = tokens_of(api), tokens_of(api)
    refresh(api, stolen["refresh_token"])
    outside_the_grace_window(stolen["refresh_token"], settings)
    assert refresh(api, stolen["refresh_token"]).status_code == 401
    assert status_of_me(api, other["access_token"]) == 200
    assert refresh(api, other["refresh_token"]).status_code == 200


def test_a_retry_inside_the_grace_window_gets_a_usable_pair(api, tokens):
    """A client whose refresh response was lost retries with the same token within
    GATEHOUSE_REFRESH_REUSE_GRACE seconds. It gets a new pair (the session is not revoked), and
    the refresh token of the lost response is spent in its place: at any moment exactly one
    refresh token of the session is usable, the one most recently handed out."""
    lost = refresh(api, tokens["refresh_token"]).json()

    retry = refresh(api, tokens["refresh_token"])

    assert retry.status_code == 200
    pair = retry.json()
    assert pair["refresh_token"] not in {lost["refresh_token"], tokens["refresh_token"]}
    assert status_of_me(api, pair["access_token"]) == 200
    assert usable_refresh_tokens() == 1
    assert RefreshToken.objects.get(used_at__isnull=True).token_hash == token_hash(pair["refresh_token"])
    assert events(REFRESH_TOKEN_REUSED) == []
    assert refresh(api, pair["refresh_token"]).status_code == 200


def test_a_second_replay_inside_the_grace_window_is_reuse(api, tokens, ada):
    """Issue 15 item 9: one grace answer per rotated token. The oldest spent token replayed again
    and again used to get a fresh pair each time; now the second replay revokes the session."""
    refresh(api, tokens["refresh_token"])
    retry = refresh(api, tokens["refresh_token"])
    assert retry.status_code == 200, retry.content
    again = refresh(api, tokens["refresh_token"])
    assert again.status_code == 401 and error_code(again) == "invalid_token"
    assert status_of_me(api, retry.json()["access_token"]) == 401
    [reuse] = events(REFRESH_TOKEN_REUSED)
    assert reuse["user_id"] == str(ada.id)


def test_every_replay_is_logged_and_counted(api, tokens, caplog):
    from prometheus_client import REGISTRY

    def counted(outcome):
        return REGISTRY.get_sample_value("gatehouse_refresh_token_replays_total", {"outcome": outcome}) or 0

    grace, reuse = counted("grace"), counted("reuse")
    refresh(api, tokens["refresh_token"])
    refresh(api, tokens["refresh_token"])
    refresh(api, tokens["refresh_token"])
    assert (counted("grace") - grace, counted("reuse") - reuse) == (1, 1)
    logged = [r.event for r in caplog.records if r.name == "gatehouse.security" and hasattr(r, "event")]
    assert logged.count("auth.refresh_token_replayed") == 1 and logged.count("auth.refresh_token_reused") == 1


def test_logout_with_a_rotated_refresh_token_is_reuse(api, tokens, ada):
    """Issue 15 item 9: logging out with an already-rotated token used to end the session
    quietly; whoever holds a spent token is not the client, so it is reuse: event and notice."""
    fresh = refresh(api, tokens["refresh_token"]).json()
    response = api.post("/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 401 and error_code(response) == "invalid_token"
    assert status_of_me(api, fresh["access_token"]) == 401
    assert Session.objects.get().revoke_reason == "refresh_token_reused"
    [reuse] = events(REFRESH_TOKEN_REUSED)
    assert reuse["user_id"] == str(ada.id)


def test_logout_with_the_current_refresh_token_just_signs_out(api, tokens):
    fresh = refresh(api, tokens["refresh_token"]).json()
    response = api.post("/api/v1/auth/logout", {"refresh_token": fresh["refresh_token"]}, format="json")
    assert response.status_code == 204
    assert Session.objects.get().revoke_reason == "logout"
    assert events(REFRESH_TOKEN_REUSED) == []


def test_the_lost_responses_token_used_later_counts_as_reuse(api, tokens, settings):
    """The token of the lost response was spent by the retry: presenting it after the grace
    window means two clients hold the family, and the session goes."""
    lost = refresh(api, tokens["refresh_token"]).json()
    retried = refresh(api, tokens["refresh_token"]).json()
    outside_the_grace_window(lost["refresh_token"], settings)
    assert refresh(api, lost["refresh_token"]).status_code == 401
    assert status_of_me(api, retried["access_token"]) == 401


@pytest.mark.parametrize("token", ["not-a-refresh-token", "x" * 256])
def test_an_unknown_refresh_token_is_401(api, tokens, token):
    response = refresh(api, token)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert usable_refresh_tokens() == 1


def test_a_missing_refresh_token_is_a_validation_error(api, db):
    response = api.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert "refresh_token" in response.json()["error"]["details"]


def test_an_access_token_is_not_a_refresh_token(api, tokens):
    response = refresh(api, tokens["access_token"])
    assert response.status_code in {400, 401}  # too long for the field, or unknown
    assert usable_refresh_tokens() == 1


def test_the_refresh_token_of_an_expired_session_is_refused(api, tokens):
    Session.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = refresh(api, tokens["refresh_token"])
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def test_a_deactivated_user_cannot_refresh(api, tokens, ada):
    user_service.deactivate_user(user_id=ada.id)
    response = refresh(api, tokens["refresh_token"])
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert usable_refresh_tokens() == 1  # nothing spent


def test_the_refresh_token_of_a_user_deleted_outright_is_401_not_404(api, tokens, ada):
    User.objects.filter(id=ada.id).delete()
    response = refresh(api, tokens["refresh_token"])
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
