"""`/api/` skips Django's browser-only middlewares (gateway.middleware.ApiSkipsBrowserMiddleware);
everything else still runs them all."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import Client

from gateway.middleware import ApiSkipsBrowserMiddleware
from tests.support.factories import UserFactory


@pytest.mark.django_db
def test_an_api_response_has_the_headers_the_skipped_middlewares_gave_it_and_sets_no_cookie(client):
    client.cookies["sessionid"] = "not-a-session"
    client.cookies["csrftoken"] = "x" * 32
    for response in (
        client.get("/api/v1/users/me"),
        client.get("/api/v1/nothing-here"),
        client.get("/api/v1/users/me/"),
    ):
        assert response.status_code in (401, 404)
        assert response["Content-Type"] == "application/json"
        assert response["X-Frame-Options"] == "DENY"  # XFrameOptionsMiddleware's, now the edge's
        assert int(response["Content-Length"]) == len(response.content)  # CommonMiddleware's
        assert not response.cookies  # no session, no CSRF cookie
        assert "Cookie" not in response.get("Vary", "")
    # No slash redirect under /api/ (APPEND_SLASH is CommonMiddleware's): the API's own 404.
    assert client.get("/api/v1/users/me/").json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_an_api_request_gets_no_session_user_even_with_a_valid_admin_session(client):
    from users.models import User

    staff = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(User.objects.get(id=staff.id))
    assert client.get("/admin/").status_code == 200  # the session signs the operator in
    response = client.get("/api/v1/users/me")  # but is no credential for the API
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_the_admin_still_runs_them_all():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY"
    assert "csrftoken" in page.cookies  # CSRF's cookie for the form
    refused = client.post("/admin/login/", {"username": "a@example.com", "password": "x"})
    assert refused.status_code == 403  # no CSRF token: CsrfViewMiddleware refuses


def _chain(*classes):
    """Django's own chain: each middleware wrapped by convert_exception_to_response."""
    from django.core.handlers.exception import convert_exception_to_response

    def view(request):
        return HttpResponse("view")

    handler = convert_exception_to_response(view)
    for cls in reversed(classes):
        handler = convert_exception_to_response(cls(handler))
    return handler


def test_it_skips_the_six_and_nothing_after_them(rf):
    from gateway.middleware import BROWSER_ONLY

    seen = []

    class Other:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            seen.append(request.path)
            return self.get_response(request)

    handler = _chain(ApiSkipsBrowserMiddleware, *BROWSER_ONLY, Other)
    api_request = rf.get("/api/v1/users/me")
    assert handler(api_request).content == b"view"
    assert seen == ["/api/v1/users/me"]
    assert not hasattr(api_request, "session") and not hasattr(api_request, "_messages")
    request = rf.get("/admin/")
    handler(request)
    assert hasattr(request, "session") and hasattr(request, "_messages") and hasattr(request, "user")
    assert seen == ["/api/v1/users/me", "/admin/"]


def test_misplaced_it_is_a_configuration_error():
    from gateway.middleware import BROWSER_ONLY

    class Other:
        def __init__(self, get_response):
            self.get_response = get_response

    for chain in ((), BROWSER_ONLY[:3], (*BROWSER_ONLY[:3], Other, *BROWSER_ONLY[3:]), (Other, *BROWSER_ONLY)):
        with pytest.raises(ImproperlyConfigured, match="ApiSkipsBrowserMiddleware"):
            _chain(ApiSkipsBrowserMiddleware, *chain)
