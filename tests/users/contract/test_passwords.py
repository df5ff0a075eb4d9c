"""UserService password methods, against both implementations (see conftest)."""

import uuid

import pytest

from users.interface import InvalidUserInput, UserNotFound

STRONG = "a-Long-unguessable-passphrase-42"


def test_verify_password_returns_the_user_for_the_right_password_in_any_email_case(users):
    user = users.create_user(email="ada@example.com", password=STRONG)
    assert users.verify_password(email="ADA@example.com", password=STRONG) == user


def test_verify_password_returns_none_for_a_wrong_password_and_for_an_unknown_email(users):
    users.create_user(email="ada@example.com", password=STRONG)
    assert users.verify_password(email="ada@example.com", password=STRONG + "x") is None
    assert users.verify_password(email="nobody@example.com", password=STRONG) is None


def test_an_account_without_a_password_never_verifies(users):
    users.create_user(email="ada@example.com")
    assert users.verify_password(email="ada@example.com", password="") is None
    assert users.verify_password(email="ada@example.com", password="!") is None


def test_check_password_answers_for_the_user_by_id(users):
    user = users.create_user(email="ada@example.com", password=STRONG)
    assert users.check_password(user_id=user.id, password=STRONG) is True
    assert users.check_password(user_id=user.id, password="wrong") is False
    assert users.check_password(user_id=uuid.uuid4(), password=STRONG) is False


def test_set_password_replaces_the_old_one(users):
    user = users.create_user(email="ada@example.com", password=STRONG)
    users.set_password(user_id=user.id, password="another-Long-passphrase-7")
    assert users.verify_password(email="ada@example.com", password=STRONG) is None
    assert users.verify_password(email="ada@example.com", password="another-Long-passphrase-7") == user


def test_set_password_refuses_a_weak_password_and_keeps_the_old_one(users):
    user = users.create_user(email="ada@example.com", password=STRONG)
    with pytest.raises(InvalidUserInput) as caught:
        users.set_password(user_id=user.id, password="password")
    assert caught.value.details["password"]
    assert users.check_password(user_id=user.id, password=STRONG) is True


def test_set_password_of_an_unknown_user_is_not_found(users):
    with pytest.raises(UserNotFound):
        users.set_password(user_id=uuid.uuid4(), password="another-Long-passphrase-7")
