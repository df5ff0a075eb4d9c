"""The Django admin's login is no side door: it shares the API's lockout and TOTP."""

import pyotp
import pytest
from django.test import override_settings

from auth.interface import auth_service
from tests.support.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


def admin_login(client, password=PASSWORD, otp=""):
    return client.post("/admin/login/?next=/admin/", {"username": "root@example.com", "password": password, "otp": otp})


def test_staff_logs_in_to_the_admin_with_email_and_password(client, staff):
    response = admin_login(client)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_wrong_password_is_refused(client, staff):
    response = admin_login(client, password="wrong-password-entirely")
    assert response.status_code == 200
    assert b"The email or password is not correct." in response.content
    assert client.get("/admin/").status_code == 302  # still sent to the login page


@override_settings(GATEHOUSE_LOGIN_MAX_FAILURES=3)
def test_admin_login_is_locked_after_the_failure_limit_even_with_the_right_password(client, staff):
    for _ in range(3):
        admin_login(client, password="wrong-password-entirely")
    response = admin_login(client)
    assert response.status_code == 200
    assert b"Too many failed attempts" in response.content
    assert client.get("/admin/").status_code == 302


def test_admin_login_asks_for_the_one_time_code_when_totp_is_on(client, staff):
    enrollment = auth_service.enroll_totp(user_id=staff.id, password=PASSWORD)
    totp = pyotp.TOTP(enrollment.secret)
    auth_service.confirm_totp(user_id=staff.id, otp=totp.now())
    refused = admin_login(client)
    assert refused.status_code == 200
    assert b"one-time code" in refused.content.lower()
    recovery = admin_login(client, otp=enrollment.recovery_codes[0])
    assert recovery.status_code == 302


def test_the_admin_login_leaves_no_token_session_behind(client, staff):
    admin_login(client)
    assert auth_service.list_sessions(user_id=staff.id) == []


def test_a_plain_user_cannot_enter_the_admin(client):
    UserFactory(email="root@example.com")
    response = admin_login(client)
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302
