import pytest
from django.core.management import CommandError, call_command

from permissions.interface import permission_service
from users.interface import user_service

pytestmark = pytest.mark.django_db


def test_createsuperuser_noinput_reads_the_environment_and_creates_an_active_verified_superuser(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-Long-unguessable-passphrase-42")
    call_command("createsuperuser", "--noinput")
    user = user_service.get_user_by_email(email="root@example.com")
    assert (user.is_active, user.is_verified, user.is_staff, user.is_superuser) == (True, True, True, True)
    assert user_service.verify_password(email="root@example.com", password="a-Long-unguessable-passphrase-42")
    assert permission_service.check(user_id=user.id, permission="rbac.role.manage")
    assert permission_service.check(user_id=user.id, permission="users.user.manage", scope="org:acme/project:1")


def test_createsuperuser_refuses_a_weak_password_and_creates_nothing(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "password")
    with pytest.raises(CommandError, match="password"):
        call_command("createsuperuser", "--noinput")
    assert user_service.list_users().results == ()


def test_createsuperuser_noinput_without_the_environment_is_an_error(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    with pytest.raises(CommandError):
        call_command("createsuperuser", "--noinput")
