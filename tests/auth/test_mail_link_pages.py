"""Issue 16 item 7: the links in Gatehouse's mails lead to pages Gatehouse serves itself
(/verify-email, /reset-password) when no frontend is configured. A GET never spends a token (mail
scanners fetch links); the page's POST does, with CSRF protection; a bad token changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from auth.interface import PASSWORD_RESET_REQUESTED
from auth.models import OneTimeToken
from tests.support.factories import PASSWORD
from tests.support.http import login
from users.interface import user_service
from users.models import User

from .conftest import events, sealed_token

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-Long-passphrase-77"


@pytest.fixture
def page():
    return Client()


@pytest.fixture
def reset_token(api, ada, deliver_events) -> str:
    assert api.post("/api/v1/auth/password/reset", {"email": ada.email}, format="json").status_code == 202
    [payload] = events(PASSWORD_RESET_REQUESTED)
    return sealed_token(payload)


def verified(user_id) -> bool:
    return user_service.get_user(user_id=user_id).is_verified


def password_hash() -> str:
    return User.objects.get(email="ada@example.com").password


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- where the mails point -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_verification_mail_links_to_this_servers_own_page_by_default(
    api, deliver_events, in_process_tasks, settings
):
    from django.conf import settings as django_settings

    # The default of GATEHOUSE_FRONTEND_URL is the issuer: this server's own address.
    assert django_settings.GATEHOUSE_FRONTEND_URL == django_settings.GATEHOUSE_ISSUER
    api.post("/api/v1/auth/register", {"email": "grace@example.com", "password": PASSWORD}, format="json")
    deliver_events()
    [message] = [m for m in mail.outbox if m.to == ["grace@example.com"] and "Confirm" in m.subject]
    [link] = re.findall(r"https?://\S+", message.body)
    assert link.startswith(f"{settings.GATEHOUSE_ISSUER.rstrip('/')}/verify-email?token=")
    path = link.removeprefix(settings.GATEHOUSE_ISSUER.rstrip("/"))
    assert Client().get(path).status_code == 200  # and this server answers it


# --- /verify-email ----------------------------------------------------------------------------------


def test_opening_the_verification_link_shows_a_button_and_spends_nothing(page, registered):
    user_id, token = registered
    for _ in range(3):  # a mail scanner, a preview, the person
        response = page.get(f"/verify-email?token={token}")
        assert response.status_code == 200
        assert 'method="post"' in text(response) and "csrfmiddlewaretoken" in text(response)
        assert "no-store" in response["Cache-Control"]
        assert "default-src 'none'" in response["Content-Security-Policy"]
    assert not verified(user_id)
    assert OneTimeToken.objects.filter(purpose="verify_email", used_at__isnull=True).count() == 1


def test_the_pages_button_verifies_the_email(page, registered):
    user_id, token = registered
    response = page.post("/verify-email", {"token": token})
    assert response.status_code == 200
    assert "Your email address is verified" in text(response)
    assert verified(user_id)
    again = page.post("/verify-email", {"token": token})
    assert again.status_code == 400
    assert "invalid, expired or already used" in text(again)


@pytest.mark.parametrize("token", ["made-up-token", "", "x" * 300])
def test_a_bad_verification_token_says_so_and_verifies_nothing(page, registered, token):
    user_id, _ = registered
    for response in (page.get(f"/verify-email?token={token}"), page.post("/verify-email", {"token": token})):
        if response.request["REQUEST_METHOD"] == "GET" and token == "made-up-token":
            assert response.status_code == 200  # a GET cannot tell without spending; the POST says
            continue
        assert response.status_code == 400
        assert "invalid, expired or already used" in text(response)
        assert "<form" not in text(response)
    assert not verified(user_id)


def test_an_expired_verification_link_says_so_and_verifies_nothing(page, registered):
    user_id, token = registered
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = page.post("/verify-email", {"token": token})
    assert response.status_code == 400
    assert "invalid, expired or already used" in text(response)
    assert not verified(user_id)


def test_the_verify_form_is_refused_without_its_csrf_token(registered):
    user_id, token = registered
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/verify-email", {"token": token}).status_code == 403
    assert not verified(user_id)
    strict.get(f"/verify-email?token={token}")  # the page sets the cookie; the form carries the token
    csrf = strict.cookies["csrftoken"].value
    assert strict.post("/verify-email", {"token": token, "csrfmiddlewaretoken": csrf}).status_code == 200
    assert verified(user_id)


# --- /reset-password --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_reset_mail_links_to_this_servers_own_page(api, ada, deliver_events, in_process_tasks):
    from django.conf import settings as django_settings

    api.post("/api/v1/auth/password/reset", {"email": ada.email}, format="json")
    deliver_events()
    [message] = [m for m in mail.outbox if m.to == [ada.email]]
    [link] = re.findall(r"https?://\S+", message.body)
    assert link.startswith(f"{django_settings.GATEHOUSE_FRONTEND_URL.rstrip('/')}/reset-password?token=")


def test_opening_the_reset_link_asks_for_the_password_twice_and_spends_nothing(page, ada, reset_token):
    before = password_hash()
    response = page.get(f"/reset-password?token={reset_token}")
    assert response.status_code == 200
    body = text(response)
    assert 'name="new_password"' in body and 'name="new_password_again"' in body
    assert 'autocomplete="new-password"' in body
    assert password_hash() == before
    assert OneTimeToken.objects.filter(purpose="password_reset", used_at__isnull=True).count() == 1


def test_the_reset_page_sets_the_password_and_ends_every_session(page, api, ada, reset_token):
    access = login(api).json()["access_token"]
    response = page.post(
        "/reset-password", {"token": reset_token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert "Your password is changed" in text(response)
    assert api.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    assert login(api).status_code == 401
    assert login(api, password=NEW_PASSWORD).status_code == 200


def test_two_different_passwords_are_refused_and_change_nothing(page, ada, reset_token):
    before = password_hash()
    response = page.post(
        "/reset-password",
        {"token": reset_token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD + "x"},
    )
    assert response.status_code == 400
    assert "The two passwords are not the same." in text(response)
    assert password_hash() == before
    assert OneTimeToken.objects.filter(purpose="password_reset", used_at__isnull=True).count() == 1


def test_a_weak_password_is_refused_with_the_policys_words_and_the_link_still_works(page, ada, reset_token):
    before = password_hash()
    response = page.post(
        "/reset-password", {"token": reset_token, "new_password": "short", "new_password_again": "short"}
    )
    assert response.status_code == 400
    assert "This password is too short" in text(response)
    assert password_hash() == before
    good = page.post(
        "/reset-password", {"token": reset_token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )
    assert good.status_code == 200
    assert password_hash() != before


@pytest.mark.parametrize("token", ["made-up-token", ""])
def test_a_bad_reset_token_says_so_and_changes_nothing(page, ada, token):
    before = password_hash()
    response = page.post(
        "/reset-password", {"token": token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "invalid, expired or already used" in text(response)
    assert "Nothing was changed" in text(response)
    assert "<form" not in text(response)
    assert password_hash() == before


def test_an_expired_reset_link_says_so_and_changes_nothing(page, ada, reset_token):
    before = password_hash()
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = page.post(
        "/reset-password", {"token": reset_token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "Nothing was changed" in text(response)
    assert password_hash() == before


def test_the_reset_form_is_refused_without_its_csrf_token(ada, reset_token):
    before = password_hash()
    strict = Client(enforce_csrf_checks=True)
    body = {"token": reset_token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    assert strict.post("/reset-password", body).status_code == 403
    assert password_hash() == before
