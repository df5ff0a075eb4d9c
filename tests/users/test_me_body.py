"""GET /users/me renders the user without building a serializer per call (issue 24): the body is
exactly UserOutput's rendering, the schema's."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.support.factories import UserFactory
from users.api.views import UserOutput, user_body
from users.interface import user_service

PASSWORD = "a-Long-enough-passphrase-42"


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    display_name=st.text(max_size=20),
    joined=st.datetimes(min_value=dt.datetime(1970, 1, 1), timezones=st.just(dt.UTC)),
    verified=st.booleans(),
    active=st.booleans(),
    mfa=st.booleans(),
)
def test_the_written_out_body_is_the_serializers(display_name, joined, verified, active, mfa):
    from types import SimpleNamespace
    from uuid import uuid4

    user = SimpleNamespace(
        id=uuid4(),
        email="ada@example.com",
        display_name=display_name,
        is_verified=verified,
        is_active=active,
        date_joined=joined,
    )
    expected = UserOutput({**vars(user), "mfa_enabled": mfa}).data
    body = user_body(user, mfa_enabled=mfa)
    assert body == expected
    assert list(body) == list(expected)  # the same order of keys in the JSON


@pytest.mark.django_db
def test_get_me_answers_the_serializers_rendering_of_the_stored_user(client):
    model = UserFactory(email="me@example.com", password=PASSWORD, display_name="Me")
    token = client.post(
        "/api/v1/auth/token", {"email": "me@example.com", "password": PASSWORD}, content_type="application/json"
    ).json()["access_token"]
    response = client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    user = user_service.get_user(user_id=model.id)
    fields = ("id", "email", "display_name", "is_verified", "is_active", "date_joined")
    assert response.json() == dict(UserOutput({**{f: getattr(user, f) for f in fields}, "mfa_enabled": False}).data)


@pytest.mark.django_db
def test_a_compiled_read_refuses_a_query_that_does_not_use_its_value_exactly_once():
    import uuid

    from project.compiled import CompiledRead
    from users.models import User

    twice = CompiledRead(
        User,
        "id",
        lambda value: User.objects.filter(id=value).values_list("id") | User.objects.filter(id=value).values_list("id"),
        uuid.UUID(int=0),
    )
    with pytest.raises(ValueError, match="exactly once"):
        twice.first(uuid.uuid4())
    model = UserFactory(email="once@example.com", password=PASSWORD)
    once = CompiledRead(User, "id", lambda value: User.objects.filter(id=value).values_list("email"), uuid.UUID(int=0))
    assert once.first(model.id) == ("once@example.com",)
    assert once.first(str(model.id)) == ("once@example.com",)  # the value is prepared as the ORM would
    assert once.first(uuid.uuid4()) is None


@pytest.mark.django_db(transaction=True)
def test_a_compiled_read_answers_from_other_threads_with_their_own_connection():
    import threading
    import uuid

    from django.db import connections

    from project.compiled import CompiledRead
    from users.models import User

    model = UserFactory(email="threads@example.com", password=PASSWORD)
    read = CompiledRead(
        User, "id", lambda value: User.objects.filter(id=value).values_list("email", "date_joined"), uuid.UUID(int=0)
    )
    assert read.first(model.id) == ("threads@example.com", model.date_joined)
    main = connections["default"]
    assert read._local.compiled["default"][3].connection is main
    answers = []

    def in_thread():
        answers.append(read.first(model.id))
        mine = connections["default"]  # this thread's own wrapper
        compiler = read._local.compiled["default"][3]
        answers.append((compiler.connection is mine, compiler.connection is main))
        mine.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert answers == [("threads@example.com", model.date_joined), (True, False)]


@pytest.mark.django_db
def test_a_compiled_read_builds_the_model_as_the_orm_does():
    from project.compiled import CompiledRead, model_columns
    from users.models import User

    model = UserFactory(email="whole@example.com", password=PASSWORD)
    read = CompiledRead(
        User, "email", lambda email: User.objects.filter(email=email).values_list(*model_columns(User))[:1], "x"
    )
    user = read.instance("whole@example.com")
    orm = User.objects.get(id=model.id)
    assert {f.attname: getattr(user, f.attname) for f in User._meta.concrete_fields} == {
        f.attname: getattr(orm, f.attname) for f in User._meta.concrete_fields
    }
    assert (user._state.adding, user._state.db) == (False, "default")
    assert read.instance("nobody@example.com") is None
