"""POST /api/v1/rbac/check answers a plain check of one's own permission without DRF's dispatch
(gateway.direct, issue 24), and answers every request exactly as DRF's view answers it: the same
status, the same body bytes and the same headers, for any body, content type, Accept header, query
string, token and subject, errors included."""

from __future__ import annotations

import json
import uuid
from unittest import mock

import pytest
from django.db import OperationalError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from permissions.api import views
from project.kernel.delegation import provided
from project.kernel.errors import ServiceUnavailable
from tests.permissions.test_check_input import OTHER_USER, content_types, raw_bodies
from tests.support.http import exchange, presenting

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.permissions.urls")]

CHECK = "/api/v1/rbac/check"


def _answer(client, path: str, body: bytes, content_type: str, **headers) -> tuple[int, bytes, dict]:
    return exchange(client, "POST", path, body, content_type, **headers)


def _through_drf(client, *args, **headers):
    """The answer with the direct path switched off: DRF's view for every request."""
    with mock.patch.object(views, "plain_request", lambda request, method: None):
        return _answer(client, *args, **headers)


def _answered_by(client, *args, **headers) -> tuple[tuple[int, bytes, dict], str]:
    """The answer, and who gave it: "direct", or "drf" when DRF's view was dispatched."""
    dispatched = []
    dispatch = views.CheckApi.dispatch

    def counted(view, request, *a, **k):
        dispatched.append(request.path)
        return dispatch(view, request, *a, **k)

    with mock.patch.object(views.CheckApi, "dispatch", counted):
        answer = _answer(client, *args, **headers)
    return answer, "drf" if dispatched else "direct"


# Bodies a client plainly sends, to one's own permissions or another's, granted, denied or unknown.
plain_bodies = st.fixed_dictionaries(
    {"permission": st.sampled_from(["users.user.view", "users.user.manage", "users.user.fly", " users.user.view "])},
    optional={
        "scope": st.sampled_from([None, "org:acme", "org:acme/p:1", "org:globex", "not a scope", "org:"]),
        "user_id": st.sampled_from([None, "SELF", str(OTHER_USER)]),
    },
)
accepts = st.sampled_from(
    [None, "", "*/*", "application/json", "application/json; indent=2", "text/html", "application/*", "text/plain"]
)
queries = st.sampled_from(["", "?format=json", "?format=api", "?x=1"])
tokens = st.sampled_from(["own", "none", "bad", "Basic"])


def _encode(body, user_id: uuid.UUID) -> bytes:
    if isinstance(body, dict) and body.get("user_id") == "SELF":
        body = {**body, "user_id": str(user_id)}
    return body if isinstance(body, bytes) else json.dumps(body).encode()


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(plain_bodies, raw_bodies),
    content_type=st.one_of(st.just("application/json"), content_types),
    accept=accepts,
    query=queries,
    token=tokens,
)
def test_every_request_is_answered_as_drf_answers_it(acme_viewer, body, content_type, accept, query, token):
    signed_in, user_id = acme_viewer
    client = presenting(token, signed_in)
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    args = (CHECK + query, _encode(body, user_id), content_type)
    assert _answer(client, *args, **headers) == _through_drf(client, *args, **headers)


@pytest.mark.parametrize(
    ("body", "allowed"),
    [
        ({"permission": "users.user.view", "scope": "org:acme/p:1"}, True),
        ({"permission": "users.user.view", "scope": "org:globex"}, False),
        ({"permission": "users.user.view", "scope": "org:acme", "user_id": "SELF"}, True),
        ({"permission": "users.user.manage"}, False),
    ],
)
def test_a_plain_check_of_ones_own_permission_is_answered_without_drf(acme_viewer, body, allowed):
    client, user_id = acme_viewer
    args = (CHECK, _encode(body, user_id), "application/json")
    (status, content, headers), by = _answered_by(client, *args)
    assert by == "direct"
    assert (status, json.loads(content)) == (200, {"allowed": allowed})
    assert headers["Content-Type"] == "application/json" and headers["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"permission": "users.user.fly"}, 400),  # denied, and nobody declared it: unknown_permission
        ({"permission": "users.user.view", "user_id": str(OTHER_USER)}, 403),  # another's: rbac.check.any
        ({"checks": [{"permission": "users.user.view"}]}, 200),  # a batch
        ({"permission": "users.user.view", "scope": ""}, 200),  # not plainly valid: the serializer reads it
    ],
)
def test_the_rest_is_left_to_drf(acme_viewer, body, status):
    client, user_id = acme_viewer
    answer, by = _answered_by(client, CHECK, _encode(body, user_id), "application/json")
    assert (by, answer[0]) == ("drf", status)


@pytest.mark.parametrize(
    "failure",
    [ServiceUnavailable("The permission service is unavailable."), OperationalError("the database is down")],
    ids=["service unavailable", "database down"],
)
def test_a_failing_service_is_answered_as_drf_answers_it(acme_viewer, failure):
    client, _ = acme_viewer
    args = (CHECK, json.dumps({"permission": "users.user.view"}).encode(), "application/json")
    with mock.patch.object(provided("permissions"), "check", side_effect=failure):
        direct = _answer(client, *args)
        assert direct == _through_drf(client, *args)
    assert direct[0] == 503 and direct[2]["Retry-After"] and json.loads(direct[1])["error"]["code"]
