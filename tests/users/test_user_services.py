"""The users core service in-process: validation, normalisation, and the events it records."""

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from project.events.models import OutboxEvent
from users.core.services import create_user, deactivate_user, update_user
from users.interface import USER_DEACTIVATED, USER_REGISTERED, USER_UPDATED, EmailTaken, InvalidUserInput, UserNotFound
from users.models import User

pytestmark = pytest.mark.django_db

STRONG = "a-Long-unguessable-passphrase-42"


def events(type_):
    return list(OutboxEvent.objects.filter(type=type_).order_by("occurred_at"))


def test_user_is_created_with_a_lower_cased_email_and_a_hashed_password():
    user = create_user(email="  Ada@Example.COM ", password=STRONG, display_name="Ada")
    assert user.email == "ada@example.com"
    assert user.password != STRONG
    assert user.check_password(STRONG)


def test_user_creation_records_user_registered_in_the_same_transaction():
    user = create_user(email="ada@example.com", password=STRONG)
    [event] = events(USER_REGISTERED)
    assert event.payload == {
        "user_id": str(user.id),
        "email": "ada@example.com",
        "display_name": "",
        "is_verified": False,
    }
    assert event.producer == "users"


def test_user_without_password_cannot_log_in_with_one():
    user = create_user(email="ada@example.com")
    assert not user.has_usable_password()


def test_user_with_a_taken_email_in_other_case_cannot_be_created_and_nothing_is_recorded():
    create_user(email="ada@example.com")
    with pytest.raises(EmailTaken):
        create_user(email="ADA@example.com")
    assert User.objects.count() == 1
    assert len(events(USER_REGISTERED)) == 1


@pytest.mark.parametrize(
    ("password", "fragment"),
    [("short", "too short"), ("password1234", "too common"), ("12345678901234", "entirely numeric")],
)
def test_user_with_a_weak_password_cannot_be_created(password, fragment):
    with pytest.raises(InvalidUserInput) as caught:
        create_user(email="ada@example.com", password=password)
    assert any(fragment in message for message in caught.value.details["password"])
    assert not User.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize("email", ["", "not-an-email", "a@", "@b.com", "a b@c.com", "x" * 250 + "@example.com"])
def test_user_with_a_bad_email_cannot_be_created(email):
    with pytest.raises(InvalidUserInput) as caught:
        create_user(email=email)
    assert "email" in caught.value.details
    assert not User.objects.exists()


def test_display_name_with_control_characters_is_rejected():
    with pytest.raises(InvalidUserInput) as caught:
        create_user(email="ada@example.com", display_name="bad\x00name")
    assert "display_name" in caught.value.details


def test_update_records_only_the_fields_that_changed():
    user = create_user(email="ada@example.com", display_name="Ada")
    update_user(user_id=user.id, display_name="Ada L.", email="ada@example.com")
    [event] = events(USER_UPDATED)
    assert event.payload == {"user_id": str(user.id), "changed": ["display_name"]}


def test_update_that_changes_nothing_records_nothing():
    user = create_user(email="ada@example.com", display_name="Ada")
    update_user(user_id=user.id, display_name="Ada")
    assert events(USER_UPDATED) == []


def test_update_to_a_taken_email_is_a_conflict_and_changes_nothing():
    create_user(email="grace@example.com")
    ada = create_user(email="ada@example.com")
    with pytest.raises(EmailTaken):
        update_user(user_id=ada.id, email="Grace@example.com", display_name="New")
    ada.refresh_from_db()
    assert (ada.email, ada.display_name) == ("ada@example.com", "")
    assert events(USER_UPDATED) == []


def test_update_of_an_unknown_user_is_not_found():
    with pytest.raises(UserNotFound):
        update_user(user_id=uuid.uuid4(), display_name="x")


def test_deactivation_is_idempotent_and_recorded_once():
    user = create_user(email="ada@example.com")
    deactivate_user(user_id=user.id)
    deactivate_user(user_id=user.id)
    user.refresh_from_db()
    assert not user.is_active
    assert len(events(USER_DEACTIVATED)) == 1


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_as_email_is_either_a_valid_user_or_a_validation_error(text):
    # Bad input gets a clear domain error, never a crash or a half-written row.
    before = User.objects.count()
    try:
        user = create_user(email=text)
    except (InvalidUserInput, EmailTaken):
        assert User.objects.count() == before
    else:
        assert user.email == text.strip().lower()
        User.objects.filter(id=user.id).delete()


def test_a_verified_password_hashed_by_an_older_hasher_is_rehashed_and_saved(settings):
    from django.contrib.auth.hashers import make_password

    from users.core.services import verify_password

    user = create_user(email="old@example.com", password=STRONG, display_name="Old")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ]
    User.objects.filter(id=user.id).update(password=make_password(STRONG, hasher="pbkdf2_sha1"))
    assert verify_password(email=" OLD@example.com", password="wrong") is None
    verified = verify_password(email=" OLD@example.com", password=STRONG)
    assert verified is not None and verified.id == user.id and verified.email == "old@example.com"
    assert User.objects.get(id=user.id).password.startswith("md5$")  # upgraded, through the row it read
    assert verify_password(email="nobody@example.com", password=STRONG) is None
