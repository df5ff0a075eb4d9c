"""A new application with access to an account is a security mail (issue 17), once per application."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.notifications.conftest import embedded  # noqa: F401 - a fixture
from tests.oidc.conftest import code_of, exchange, pkce

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]


def sign_in_to(browser, client):
    verifier, challenge = pkce()
    code = code_of(browser, client.client.client_id, challenge)
    assert (
        exchange(None, code, verifier, secret=client.client_secret, client_id=client.client.client_id).status_code
        == 200
    )


def test_the_first_grant_to_an_application_mails_the_user_and_the_next_ones_do_not(ada, rp, browser):
    mail.outbox.clear()
    sign_in_to(browser, rp)
    notices = [m for m in mail.outbox if m.subject == "Relying Party can now access your account"]
    assert len(notices) == 1 and notices[0].to == ["ada@example.com"]
    from django.test import Client

    sign_in_to(Client(), rp)  # another browser, the same application
    assert len([m for m in mail.outbox if "can now access" in m.subject]) == 1
