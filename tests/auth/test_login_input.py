"""POST /api/v1/auth/token reads a plain body with plain code, not TokenApi.InputSerializer (issue
24), and reads it as the serializer does: whatever the plain reading vouches for, the serializer
accepts and reads the same; everything else is the serializer's to answer, errors included."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from auth.api import views
from auth.api.views import TokenApi, plain_login_input
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"

texts = st.one_of(
    st.sampled_from(["ada@example.com", " ada@example.com ", PASSWORD, "123456", " 123 456 ", "", "  "]),
    st.sampled_from(["a\x00b", "\ud800", "é@example.com", "pässwort", "x" * 32, "x" * 33, "x" * 254, "x" * 255]),
    st.sampled_from(["y" * 4096, "y" * 4097, " y" * 2048, "\t\n"]),
    st.text(max_size=12),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts)
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3))
bodies = st.one_of(
    st.fixed_dictionaries(
        {"email": st.one_of(texts, anything), "password": st.one_of(texts, anything)},
        optional={
            "otp": st.one_of(texts, anything),
            "passkey": anything,
            "extra": anything,
        },
    ),
    anything,
)


@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_the_plain_reading_vouches_only_for_what_the_serializer_accepts_and_reads_it_the_same(body):
    plain = plain_login_input(body)
    serializer = TokenApi.InputSerializer(data=body)
    valid = serializer.is_valid()
    if plain is not None:
        assert valid, serializer.errors
        assert plain == dict(serializer.validated_data)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ada@example.com", "password": PASSWORD},
        {"email": "ada@example.com", "password": PASSWORD, "otp": "123456"},
        {"email": "ada@example.com", "password": PASSWORD, "otp": ""},
        {"email": "Ada@Example.com ", "password": " spaces count in a password "},
    ],
)
def test_the_usual_bodies_are_read_without_the_serializer(body):
    assert plain_login_input(body) is not None


def test_a_plain_login_makes_no_serializer_and_signs_in(api, ada):
    with mock.patch.object(TokenApi, "InputSerializer", side_effect=AssertionError("made a serializer")):
        response = api.post(TOKEN, {"email": ada.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ada@example.com"},
        {"email": "ada@example.com", "password": ""},
        {"email": 7, "password": PASSWORD},
        {"email": "ada@example.com", "password": PASSWORD, "otp": "x" * 33},
        {"email": "ada@example.com", "password": PASSWORD, "passkey": "not an object"},
        ["ada@example.com", PASSWORD],
    ],
)
def test_an_invalid_body_is_answered_by_the_serializer_as_before(api, ada, body):
    response = api.post(TOKEN, body, format="json")
    with mock.patch.object(views, "plain_login_input", lambda data: None):
        before = api.post(TOKEN, body, format="json")
    assert response.status_code == before.status_code == 400
    assert response.json() == before.json()
