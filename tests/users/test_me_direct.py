"""GET /api/v1/users/me answers a plain request without DRF's dispatch (gateway.direct, issue 24),
and answers every request exactly as DRF's view answers it: the same status, body bytes and
headers, for any Accept header, query string, token and method, errors included."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from project.kernel.delegation import provided
from project.kernel.errors import NotFound, ServiceUnavailable
from tests.support.factories import UserFactory
from tests.support.http import client_for, exchange, presenting
from users.api import views
from users.interface import user_service

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"


@pytest.fixture
def ada():
    user = UserFactory(email="ada@example.com", display_name="Ada é")
    return client_for(user), user


def _answer(client, method: str, path: str, **headers) -> tuple[int, bytes, dict]:
    return exchange(client, method, path, **headers)


def _through_drf(client, *args, **headers):
    """The answer with the direct path switched off: DRF's view for every request."""
    with mock.patch.object(views, "plain_request", lambda request, method: None):
        return _answer(client, *args, **headers)


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "GET", "HEAD", "PATCH", "DELETE"]),
    accept=st.sampled_from([None, "", "*/*", "application/json", "application/json; indent=2", "text/html"]),
    query=st.sampled_from(["", "?format=json", "?format=api", "?x=1"]),
    token=st.sampled_from(["own", "none", "bad"]),
    content_type=st.sampled_from([None, "application/json", "text/plain"]),
)
def test_every_request_is_answered_as_drf_answers_it(ada, method, accept, query, token, content_type):
    client = presenting(token, ada[0])
    headers = ({} if accept is None else {"HTTP_ACCEPT": accept}) | (
        {} if content_type is None else {"CONTENT_TYPE": content_type}
    )
    assert _answer(client, method, ME + query, **headers) == _through_drf(client, method, ME + query, **headers)


def test_a_plain_get_is_answered_without_drf(ada):
    client, user = ada
    dispatched = []
    with mock.patch.object(views.MeApi, "dispatch", lambda view, request, *a, **k: dispatched.append(request)):
        status, content, headers = _answer(client, "GET", ME)
    assert dispatched == []
    assert status == 200 and json.loads(content) == views.user_body(user_service.get_user(user_id=user.id))
    assert headers["Content-Type"] == "application/json" and headers["Allow"] == "GET, PATCH, HEAD, OPTIONS"


@pytest.mark.parametrize(
    "failure", [NotFound("No such user."), ServiceUnavailable("The users service is unavailable.")], ids=str
)
def test_a_failing_service_is_answered_as_drf_answers_it(ada, failure):
    client, _ = ada
    with mock.patch.object(provided("users"), "get_user", side_effect=failure):
        direct = _answer(client, "GET", ME)
        assert direct == _through_drf(client, "GET", ME)
    assert direct[0] in (404, 503) and json.loads(direct[1])["error"]["code"]
