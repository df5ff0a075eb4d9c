"""POST /api/v1/rbac/check reads its body with plain code, not DRF's parser and CheckInput (issue 24),
and answers every body exactly as the serializer path does: the same status and the same JSON,
error envelope, field errors and codes included."""

from __future__ import annotations

import json
import uuid
from unittest import mock

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from permissions.api import views
from permissions.api.views import CheckInput, plain_check_input
from permissions.interface import MAX_PAGE_SIZE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.permissions.urls")]

CHECK = "/api/v1/rbac/check"
OTHER_USER = uuid.uuid4()

# Values of the fields as a client may send them: the good, the wrong and the odd.
texts = st.one_of(
    st.sampled_from(["users.user.view", "rbac.role.view", "users.user.fly", "org:acme", "org:acme/p:1", "not a scope"]),
    st.sampled_from(["", "  ", " users.user.view ", "a\x00b", "\ud800", "é.é.é", "x" * 150, "x" * 151, "x" * 501]),
    st.text(max_size=12),
)
uuids = st.one_of(
    st.uuids().map(str),
    st.just(str(OTHER_USER)),
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.sampled_from(["", "not-a-uuid", "123", "urn:uuid:12345678-1234-5678-1234-567812345678"]),
    st.integers(min_value=-1, max_value=2**128),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts)
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3))
field_values = {"permission": st.one_of(texts, anything), "scope": st.one_of(texts, anything)}
field_values["user_id"] = st.one_of(uuids, anything)


def _fields(required: tuple[str, ...] = ()):
    """A dict of some of a check's fields (those in `required` always), sometimes with an extra key."""
    optional = {name: value for name, value in field_values.items() if name not in required}
    extra = st.dictionaries(st.sampled_from(["extra", "Permission", "check"]), anything, max_size=1)
    return st.tuples(
        st.fixed_dictionaries({name: field_values[name] for name in required}, optional=optional), extra
    ).map(lambda pair: {**pair[1], **pair[0]})


items = st.one_of(_fields(("permission",)), _fields(), anything)
checks = st.one_of(
    st.lists(items, max_size=4),
    st.integers(MAX_PAGE_SIZE, MAX_PAGE_SIZE + 1).map(lambda n: [{"permission": "users.user.view"}] * n),
    anything,
)
bodies = st.one_of(
    _fields(("permission",)),
    st.tuples(_fields(), checks).map(lambda pair: {**pair[0], "checks": pair[1]}),
    st.tuples(_fields(("permission",)), checks).map(lambda pair: {**pair[0], "checks": pair[1]}),
    _fields(),
    anything,
)


def _plain(value):
    """Validated data as plain dicts and lists, to compare."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@hypothesis_settings(max_examples=1000, deadline=None)
@given(body=bodies)
def test_the_plain_reading_vouches_only_for_what_the_serializer_accepts_and_reads_it_the_same(body):
    plain = plain_check_input(body)
    serializer = CheckInput(data=body)
    valid = serializer.is_valid()
    if plain is not None:
        assert valid, serializer.errors
        assert plain == _plain(serializer.validated_data)


@given(
    body=st.one_of(
        st.fixed_dictionaries(
            {"permission": st.from_regex(r"[a-z]{1,20}(\.[a-z]{1,20}){0,3}", fullmatch=True)},
            optional={"scope": st.none() | st.just("org:acme/p:1"), "user_id": st.none() | st.uuids().map(str)},
        ),
        st.fixed_dictionaries(
            {
                "checks": st.lists(
                    st.fixed_dictionaries({"permission": st.just("users.user.view")}), max_size=MAX_PAGE_SIZE
                )
            }
        ),
    )
)
def test_the_usual_bodies_are_read_without_the_serializer(body):
    assert plain_check_input(body) is not None


# Raw bodies, as the HTTP request carries them: JSON of the bodies above, and what is not JSON.
raw_bodies = st.one_of(
    bodies.map(lambda body: json.dumps(body).encode()),
    bodies.map(lambda body: json.dumps(body).encode("utf-16")),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"permission": "users.user.view"',
            b'{"permission": NaN}',
            b'{"permission": "users.user.view", "scope": Infinity}',
            b'\xef\xbb\xbf{"permission": "users.user.view"}',
            b'{"permission": "users.user.view"}\xe2\x82',
            b'{"permission": "\xff"}',
            b'{"permission": "caf\xc3\xa9.x.y"}',
            b'{"permission": "caf\xe9.x.y"}',
            b"[" * 5000 + b"]" * 5000,
            b"null",
            b"[]",
            b'"users.user.view"',
            b"permission=users.user.view",
        ]
    ),
    st.binary(max_size=40),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-16",
        "application/json; charset=latin-1",
        "application/json; charset=no-such-codec",
        " application/json ",
        "Application/JSON",
        "application/*",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ]
)


def _answer(client, body: bytes, content_type: str) -> tuple[int, object]:
    response = client.generic("POST", CHECK, body, content_type=content_type)  # the bytes as they are
    return response.status_code, response.json()


def _through_the_serializer(client, body: bytes, content_type: str) -> tuple[int, object]:
    """The answer with the plain reading switched off: DRF's parser and CheckInput, as before."""
    with (
        mock.patch.object(views, "json_body", lambda request: request.data),
        mock.patch.object(views, "plain_check_input", lambda data: None),
    ):
        return _answer(client, body, content_type)


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=raw_bodies, content_type=content_types)
def test_every_body_is_answered_as_the_serializer_path_answers_it(acme_viewer, body, content_type):
    client, _ = acme_viewer
    assert _answer(client, body, content_type) == _through_the_serializer(client, body, content_type)


def test_a_body_over_the_limit_is_413_on_both_paths(acme_viewer, settings):
    """The edge refuses a declared length over GATEHOUSE_MAX_BODY_BYTES; Django's own limit, checked
    when the view reads the body, answers the same envelope whichever path reads it."""
    client, _ = acme_viewer
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64
    body = json.dumps({"permission": "users.user.view", "scope": "org:acme/" + "p" * 100}).encode()
    answer = _answer(client, body, "application/json")
    assert answer == _through_the_serializer(client, body, "application/json")
    assert answer[0] == 413 and answer[1]["error"]["code"] == "request_too_large"
