"""Issue 15 item 8: a reset, or a password change, spends every other pending one-time token of the
user. Attacked over HTTP against a live server, the way the reviewers left 51 links live."""

import json
import urllib.error
import urllib.request

import pytest

from auth.interface import EMAIL_VERIFICATION_REQUESTED, PASSWORD_RESET_REQUESTED
from project.events.relay import relay_all
from tests.support.factories import PASSWORD
from tests.support.http import call

from .conftest import events, sealed_token

pytestmark = pytest.mark.django_db(transaction=True)


def reset_links(base: str, count: int) -> list[str]:
    for _ in range(count):
        assert call("POST", f"{base}/api/v1/auth/password/reset", {"email": "ada@example.com"})[0] == 202
    return [sealed_token(payload) for payload in events(PASSWORD_RESET_REQUESTED)]


def test_after_one_reset_every_other_reset_link_is_invalid(live_server, ada):
    base = live_server.url
    first, *others = reset_links(base, 4)

    assert (
        call(
            "POST", f"{base}/api/v1/auth/password/reset/confirm", {"token": first, "new_password": "new-Passphrase-1"}
        )[0]
        == 204
    )
    for token in others:
        status, body = call(
            "POST",
            f"{base}/api/v1/auth/password/reset/confirm",
            {"token": token, "new_password": "attacker-Passphrase-2"},
        )
        assert (status, body["error"]["code"]) == (400, "invalid_token")
    status, _ = call("POST", f"{base}/api/v1/auth/token", {"email": "ada@example.com", "password": "new-Passphrase-1"})
    assert status == 200


def test_a_password_change_makes_every_pending_reset_link_invalid(live_server, ada):
    base = live_server.url
    links = reset_links(base, 3)
    status, pair = call("POST", f"{base}/api/v1/auth/token", {"email": "ada@example.com", "password": PASSWORD})
    assert status == 200

    status, _ = call(
        "POST",
        f"{base}/api/v1/auth/password/change",
        {"old_password": PASSWORD, "new_password": "changed-Passphrase-3"},
        pair["access_token"],
    )
    assert status == 204
    for token in links:
        status, body = call(
            "POST",
            f"{base}/api/v1/auth/password/reset/confirm",
            {"token": token, "new_password": "attacker-Passphrase-2"},
        )
        assert (status, body["error"]["code"]) == (400, "invalid_token")


def test_an_email_change_makes_every_pending_reset_link_invalid(live_server, ada, admin, settings):
    settings.CELERY_BROKER_URL = ""  # the users.user_updated event is consumed in-process
    base = live_server.url
    links = reset_links(base, 2)
    status, pair = call("POST", f"{base}/api/v1/auth/token", {"email": "root@example.com", "password": PASSWORD})
    assert status == 200
    request = urllib.request.Request(
        f"{base}/api/v1/users/{ada.id}",
        json.dumps({"email": "ada.new@example.com"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {pair['access_token']}"},
        method="PATCH",
    )
    assert urllib.request.urlopen(request, timeout=10).status == 200
    while relay_all():
        pass
    # The change takes effect when the link mailed to the new address is followed (item 1).
    [verification] = [p for p in events(EMAIL_VERIFICATION_REQUESTED) if p.get("address") == "ada.new@example.com"]
    assert call("POST", f"{base}/api/v1/auth/verify-email", {"token": sealed_token(verification)})[0] == 200
    while relay_all():
        pass

    for token in links:
        status, body = call(
            "POST",
            f"{base}/api/v1/auth/password/reset/confirm",
            {"token": token, "new_password": "attacker-Passphrase-2"},
        )
        assert (status, body["error"]["code"]) == (400, "invalid_token")
