"""UserService.update_user, deactivate_user and reactivate_user, against both implementations (see conftest)."""

import uuid

import pytest

from users.interface import EmailTaken, InvalidUserInput, UserNotFound


def test_update_changes_the_given_fields_and_leaves_the_others(users):
    user = users.create_user(email="ada@example.com", display_name="Ada")
    updated = users.update_user(user_id=user.id, display_name="Ada Lovelace", is_verified=True)
    assert updated.display_name == "Ada Lovelace"
    assert updated.is_verified is True
    assert updated.email == "ada@example.com"
    assert users.get_user(user_id=user.id) == updated


def test_update_normalises_a_new_email(users):
    user = users.create_user(email="ada@example.com")
    assert users.update_user(user_id=user.id, email=" Ada.L@Example.COM ").pending_email == "ada.l@example.com"


def test_update_can_set_a_field_to_its_empty_or_false_value(users):
    user = users.create_user(email="ada@example.com", display_name="Ada", is_verified=True)
    updated = users.update_user(user_id=user.id, display_name="", is_verified=False)
    assert (updated.display_name, updated.is_verified) == ("", False)


def test_update_with_nothing_to_change_returns_the_user_as_it_is(users):
    user = users.create_user(email="ada@example.com", display_name="Ada")
    assert users.update_user(user_id=user.id) == user
    assert users.update_user(user_id=user.id, email="ADA@example.com", display_name="Ada") == user


def test_update_to_an_email_that_is_taken_raises_email_taken_and_changes_nothing(users):
    ada = users.create_user(email="ada@example.com")
    users.create_user(email="grace@example.com")
    with pytest.raises(EmailTaken) as caught:
        users.update_user(user_id=ada.id, email="Grace@example.com", display_name="Changed")
    assert caught.value == EmailTaken()
    assert users.get_user(user_id=ada.id) == ada


def test_update_to_an_invalid_email_is_refused(users):
    user = users.create_user(email="ada@example.com")
    with pytest.raises(InvalidUserInput) as caught:
        users.update_user(user_id=user.id, email="nope")
    assert caught.value.details == {"email": ["Enter a valid email address."]}


def test_update_of_an_unknown_user_raises_user_not_found(users):
    with pytest.raises(UserNotFound) as caught:
        users.update_user(user_id=uuid.uuid4(), display_name="Nobody")
    assert caught.value == UserNotFound()


def test_deactivate_marks_the_user_inactive(users):
    user = users.create_user(email="ada@example.com")
    deactivated = users.deactivate_user(user_id=user.id)
    assert deactivated.is_active is False
    assert deactivated.id == user.id
    assert users.get_user(user_id=user.id).is_active is False


def test_deactivating_an_inactive_user_again_changes_nothing(users):
    user = users.create_user(email="ada@example.com")
    first = users.deactivate_user(user_id=user.id)
    assert users.deactivate_user(user_id=user.id) == first


def test_deactivate_of_an_unknown_user_raises_user_not_found(users):
    with pytest.raises(UserNotFound) as caught:
        users.deactivate_user(user_id=uuid.uuid4())
    assert caught.value == UserNotFound()


def test_reactivate_makes_a_deactivated_user_active_again(users):
    user = users.create_user(email="ada@example.com")
    users.deactivate_user(user_id=user.id)
    reactivated = users.reactivate_user(user_id=user.id)
    assert (reactivated.id, reactivated.is_active) == (user.id, True)
    assert users.get_user(user_id=user.id).is_active is True


def test_reactivating_an_active_user_changes_nothing(users):
    user = users.create_user(email="ada@example.com")
    assert users.reactivate_user(user_id=user.id) == users.get_user(user_id=user.id)


def test_reactivate_of_an_unknown_user_raises_user_not_found(users):
    with pytest.raises(UserNotFound) as caught:
        users.reactivate_user(user_id=uuid.uuid4())
    assert caught.value == UserNotFound()


def test_a_new_email_waits_for_its_verification(users):
    """Issue 15 item 1: the address a user signs in and resets with changes only once the new
    one is proven; `is_verified` given along vouches for nothing new."""
    user = users.create_user(email="ada@example.com", is_verified=True)
    updated = users.update_user(user_id=user.id, email="ada.l@example.com", is_verified=True)
    assert (updated.email, updated.pending_email, updated.is_verified) == ("ada@example.com", "ada.l@example.com", True)
    confirmed = users.confirm_email_change(user_id=user.id, email="ada.l@example.com")
    assert (confirmed.email, confirmed.pending_email, confirmed.is_verified) == ("ada.l@example.com", "", True)


def test_only_the_pending_address_can_be_confirmed(users):
    from users.interface import InvalidUserInput

    user = users.create_user(email="ada@example.com")
    with pytest.raises(InvalidUserInput):
        users.confirm_email_change(user_id=user.id, email="other@example.com")
    users.update_user(user_id=user.id, email="ada.l@example.com")
    with pytest.raises(InvalidUserInput):
        users.confirm_email_change(user_id=user.id, email="other@example.com")
    assert users.get_user(user_id=user.id).email == "ada@example.com"
