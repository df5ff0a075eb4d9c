"""UserService.get_user, get_user_by_email and get_users, against both implementations (see conftest)."""

import uuid

import pytest

from users.interface import UserNotFound


def test_a_user_is_read_by_id(users):
    user = users.create_user(email="ada@example.com", display_name="Ada")
    assert users.get_user(user_id=user.id) == user


def test_an_inactive_user_is_still_read_by_id(users):
    user = users.create_user(email="ada@example.com")
    users.deactivate_user(user_id=user.id)
    assert users.get_user(user_id=user.id).is_active is False


def test_an_unknown_id_raises_user_not_found(users):
    with pytest.raises(UserNotFound) as caught:
        users.get_user(user_id=uuid.uuid4())
    assert caught.value == UserNotFound()
    assert caught.value.code == "user_not_found"


def test_a_user_is_read_by_email_whatever_its_case(users):
    user = users.create_user(email="ada@example.com")
    assert users.get_user_by_email(email=" ADA@Example.com ") == user


def test_an_unknown_email_raises_user_not_found(users):
    users.create_user(email="ada@example.com")
    with pytest.raises(UserNotFound) as caught:
        users.get_user_by_email(email="grace@example.com")
    assert caught.value == UserNotFound()


def test_get_many_answers_in_the_order_asked_and_leaves_unknown_ids_out(users):
    ada = users.create_user(email="ada@example.com")
    grace = users.create_user(email="grace@example.com")
    linus = users.create_user(email="linus@example.com")
    asked = [linus.id, uuid.uuid4(), ada.id, grace.id, uuid.uuid4()]
    assert users.get_users(user_ids=asked) == [linus, ada, grace]


def test_get_many_of_no_ids_is_an_empty_list(users):
    users.create_user(email="ada@example.com")
    assert users.get_users(user_ids=[]) == []


def test_get_many_of_only_unknown_ids_is_an_empty_list(users):
    assert users.get_users(user_ids=[uuid.uuid4(), uuid.uuid4()]) == []


@pytest.mark.parametrize("password", [None, "a-Long-enough-passphrase-42"])
def test_a_user_read_by_id_has_every_field_a_read_of_many_has(users, password):
    """get_user reads by a statement compiled once (project/compiled.py), get_users through
    model instances: they agree field for field, with or without a usable password."""
    user = users.create_user(email="ada@example.com", display_name="Ada", password=password)
    by_id = users.get_user(user_id=user.id)
    assert by_id == users.get_users(user_ids=[user.id])[0] == user
    assert by_id.has_password is (password is not None)
