"""UserService.create_user, against both implementations (see conftest)."""

from datetime import UTC, datetime, timedelta

import pytest

from users.interface import EmailTaken, InvalidUserInput, User

STRONG = "a-Long-unguessable-passphrase-42"


def test_a_user_is_created_with_a_lower_cased_email_and_the_given_fields(users):
    before = datetime.now(UTC)
    user = users.create_user(
        email="  Ada.Lovelace@Example.COM ",
        password=STRONG,
        display_name="Ada",
        is_verified=True,
        is_staff=True,
    )
    assert isinstance(user, User)
    assert user.email == "ada.lovelace@example.com"
    assert user.display_name == "Ada"
    assert (user.is_active, user.is_verified, user.is_staff, user.is_superuser) == (True, True, True, False)
    assert before - timedelta(seconds=5) <= user.date_joined <= datetime.now(UTC) + timedelta(seconds=5)
    assert user.date_joined.tzinfo is not None


def test_a_user_created_with_only_an_email_gets_the_interface_defaults(users):
    user = users.create_user(email="grace@example.com")
    assert user.display_name == ""
    assert (user.is_active, user.is_verified, user.is_staff, user.is_superuser) == (True, False, False, False)


def test_an_inactive_superuser_can_be_created_when_asked_for(users):
    user = users.create_user(email="root@example.com", is_active=False, is_superuser=True)
    assert (user.is_active, user.is_superuser) == (False, True)


def test_the_created_user_reads_back_equal(users):
    user = users.create_user(email="ada@example.com", password=STRONG, display_name="Ada")
    assert users.get_user(user_id=user.id) == user


def test_a_weak_password_is_refused_with_the_reasons_under_password(users):
    with pytest.raises(InvalidUserInput) as caught:
        users.create_user(email="ada@example.com", password="123")
    assert caught.value.code == "validation_error"
    assert caught.value.message == "The password is too weak."
    assert set(caught.value.details) == {"password"}
    assert caught.value.details["password"]
    assert all(isinstance(reason, str) for reason in caught.value.details["password"])


def test_a_refused_user_is_not_created(users):
    with pytest.raises(InvalidUserInput):
        users.create_user(email="ada@example.com", password="123")
    assert users.list_users().results == ()


def test_an_email_already_taken_is_refused_whatever_its_case(users):
    users.create_user(email="ada@example.com")
    with pytest.raises(EmailTaken) as caught:
        users.create_user(email="ADA@example.com", password=STRONG)
    assert caught.value == EmailTaken()
    assert caught.value.code == "email_taken"


@pytest.mark.parametrize("email", ["", "not-an-email", "ada@", "@example.com", "ada @example.com"])
def test_an_invalid_email_is_refused_with_the_reason_under_email(users, email):
    with pytest.raises(InvalidUserInput) as caught:
        users.create_user(email=email)
    assert caught.value == InvalidUserInput(
        "Enter a valid email address.", details={"email": ["Enter a valid email address."]}
    )


def test_a_display_name_with_control_characters_is_refused(users):
    with pytest.raises(InvalidUserInput) as caught:
        users.create_user(email="ada@example.com", display_name="Ada\x00")
    assert set(caught.value.details) == {"display_name"}


def test_a_display_name_keeps_characters_outside_ascii(users):
    user = users.create_user(email="zoe@example.com", display_name="Zoë 佐藤 🚀")
    assert user.display_name == "Zoë 佐藤 🚀"
    assert users.get_user(user_id=user.id).display_name == "Zoë 佐藤 🚀"
