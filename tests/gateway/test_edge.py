"""Edge policy (docs/operations.md, Edge policy): client IP, rate limits, body size, CORS, security headers."""

from __future__ import annotations

import ipaddress
import sys
import urllib.error
import urllib.request
import uuid

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gateway import edge
from tests.support.factories import UserFactory
from tests.support.processes import Process, free_port, port_open, subprocess_env
from users.interface import user_service

PASSWORD = "a-Long-enough-passphrase-42"


@pytest.fixture(autouse=True)
def fresh_counter():
    edge.use_counter(None)
    yield
    edge.use_counter(None)


def unique_ip() -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + uuid.uuid4().int % 0xFFFFFF))  # 10.x.y.z


# --- The client's address ----------------------------------------------------------------------


def _request(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/api/v1/users/me", **meta)


def test_without_trusted_proxies_the_peer_address_is_the_client(settings):
    settings.GATEHOUSE_TRUSTED_PROXIES = []
    assert edge.client_ip(_request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_hop_it_appended_is_the_client(settings):
    settings.GATEHOUSE_TRUSTED_PROXIES = ["127.0.0.1/32", "10.0.0.0/8"]
    # The client wrote "1.2.3.4" itself; nginx (10.0.0.5) appended the address it saw.
    request = _request("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.0.0.5")
    assert edge.client_ip(request) == "203.0.113.9"


def test_a_trusted_proxy_with_garbage_where_its_entry_should_be_falls_back_to_the_peer(settings):
    settings.GATEHOUSE_TRUSTED_PROXIES = ["127.0.0.1"]
    assert edge.client_ip(_request("127.0.0.1", "203.0.113.9, not-an-ip")) == "127.0.0.1"


@hypothesis_settings(max_examples=200, deadline=None)
@given(forwarded=st.text(max_size=200))
def test_an_untrusted_peer_cannot_choose_its_address_with_forwarding_headers(forwarded):
    from django.test import override_settings

    with override_settings(GATEHOUSE_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert edge.client_ip(_request("203.0.113.7", forwarded)) == "203.0.113.7"


@hypothesis_settings(max_examples=200, deadline=None)
@given(spoofed=st.lists(st.ip_addresses(v=4).map(str), max_size=5), real=st.ip_addresses(v=4).map(str))
def test_hops_a_client_writes_itself_never_override_what_the_proxy_saw(spoofed, real):
    from django.test import override_settings

    if ipaddress.ip_address(real) in ipaddress.ip_network("10.0.0.0/8"):
        return
    with override_settings(GATEHOUSE_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert edge.client_ip(_request("10.1.2.3", ", ".join([*spoofed, real]))) == real


def test_a_bad_trusted_proxy_setting_is_a_configuration_error(settings):
    settings.GATEHOUSE_TRUSTED_PROXIES = ["not-a-network"]
    with pytest.raises(ImproperlyConfigured):
        edge.client_ip(_request("127.0.0.1"))


# --- Rates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "period"),
    [("60/min", 60, 60), ("1000/hour", 1000, 3600), ("10/30s", 10, 30), ("5 / day", 5, 86400), ("1/s", 1, 1)],
)
def test_rates_are_parsed(text, limit, period):
    assert edge.parse_rate(text) == edge.Rate(limit=limit, period=period)


@pytest.mark.parametrize("text", ["", "60", "0/min", "-1/min", "60/fortnight", "sixty/min", "60/0.5s"])
def test_bad_rates_are_configuration_errors(text):
    with pytest.raises(ImproperlyConfigured):
        edge.parse_rate(text)


# --- Rate limits over HTTP -----------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_calls_are_limited_per_ip_with_headers_and_the_envelope(client, settings):
    settings.GATEHOUSE_RATELIMIT_ANON = "3/min"
    ip, other_ip = unique_ip(), unique_ip()
    remaining = []
    for _ in range(3):
        response = client.get("/api/v1/users/me", REMOTE_ADDR=ip)
        assert response.status_code == 401
        assert response["RateLimit-Limit"] == "3"
        assert response["RateLimit-Policy"] == "3;w=60"
        assert 1 <= int(response["RateLimit-Reset"]) <= 60
        remaining.append(response["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    refused = client.get("/api/v1/users/me", REMOTE_ADDR=ip)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"]["details"]["retry_after"] == int(refused["Retry-After"])
    assert refused["X-Request-ID"]
    # Another client is not affected.
    assert client.get("/api/v1/users/me", REMOTE_ADDR=other_ip).status_code == 401


@pytest.mark.django_db
def test_a_refused_call_does_nothing(client, settings):
    settings.GATEHOUSE_RATELIMIT_ANON = "5/min"
    ip = unique_ip()
    body = {"email": "late@example.com", "password": PASSWORD}
    # register weighs 5: the first call uses the whole budget, the second is refused.
    assert (
        client.post("/api/v1/auth/register", body, content_type="application/json", REMOTE_ADDR=ip).status_code == 201
    )
    body["email"] = "later@example.com"
    response = client.post("/api/v1/auth/register", body, content_type="application/json", REMOTE_ADDR=ip)
    assert response.status_code == 429
    from users.interface import UserNotFound

    with pytest.raises(UserNotFound):
        user_service.get_user_by_email(email="later@example.com")


@pytest.mark.django_db
def test_authenticated_calls_are_limited_per_user_not_per_ip(client, settings):
    settings.GATEHOUSE_RATELIMIT_USER = "4/min"
    settings.GATEHOUSE_RATELIMIT_ANON = "1000/min"
    ada = UserFactory(email="ada@example.com", password=PASSWORD)
    UserFactory(email="bob@example.com", password=PASSWORD)
    tokens = {}
    for email in ("ada@example.com", "bob@example.com"):
        response = client.post(
            "/api/v1/auth/token", {"email": email, "password": PASSWORD}, content_type="application/json"
        )
        tokens[email] = response.json()["access_token"]
    ada_auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['ada@example.com']}"}
    statuses = [client.get("/api/v1/users/me", REMOTE_ADDR=unique_ip(), **ada_auth).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # changing IP does not help a user
    bob_auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['bob@example.com']}"}
    response = client.get("/api/v1/users/me", **bob_auth)
    assert response.status_code == 200
    assert response["RateLimit-Limit"] == "4"
    assert response.json()["id"] != str(ada.id)


@pytest.mark.django_db
def test_a_bearer_token_does_not_move_anonymous_routes_into_the_user_bucket(client, settings):
    """Issue 15 item 10: register, sign-in and reset count in the caller's IP bucket (with their
    weights) whatever token the request carries: one free account buys no bigger flood."""
    settings.GATEHOUSE_RATELIMIT_USER = "1000/min"
    settings.GATEHOUSE_RATELIMIT_ANON = "10/min"
    UserFactory(email="ada@example.com", password=PASSWORD)
    ip = unique_ip()
    token = client.post(
        "/api/v1/auth/token",
        {"email": "ada@example.com", "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR=unique_ip(),
    ).json()["access_token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", "REMOTE_ADDR": ip}
    statuses = [
        client.post(
            "/api/v1/auth/password/reset", {"email": f"x{i}@example.com"}, content_type="application/json", **auth
        ).status_code
        for i in range(3)
    ]
    assert statuses == [202, 202, 429]  # weight 5 against the IP's 10, not the user's 1000
    # The user's own bucket is untouched: a profile read still goes through.
    assert client.get("/api/v1/users/me", **auth).status_code == 200


@pytest.mark.django_db
def test_password_resets_are_also_limited_per_target_address(client, settings):
    settings.GATEHOUSE_RATELIMIT_ANON = "1000/min"
    settings.GATEHOUSE_RATELIMIT_RESET_PER_ADDRESS = "2/hour"
    statuses = [
        client.post(
            "/api/v1/auth/password/reset",
            {"email": "Victim@Example.com "},
            content_type="application/json",
            REMOTE_ADDR=unique_ip(),  # a new address each time: the target is what is counted
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
    other = client.post(
        "/api/v1/auth/password/reset",
        {"email": "other@example.com"},
        content_type="application/json",
        REMOTE_ADDR=unique_ip(),
    )
    assert other.status_code == 202


@pytest.mark.django_db
def test_an_invalid_token_counts_against_the_ip_and_is_refused_once(client, settings):
    settings.GATEHOUSE_RATELIMIT_ANON = "2/min"
    ip = unique_ip()
    bad = {"HTTP_AUTHORIZATION": "Bearer not.a.token", "REMOTE_ADDR": ip}
    first = client.get("/api/v1/users/me", **bad)
    assert first.status_code == 401
    assert first.json()["error"]["code"] == "authentication_failed"
    assert client.get("/api/v1/users/me", **bad).status_code == 401
    assert client.get("/api/v1/users/me", **bad).status_code == 429


@pytest.mark.django_db
def test_health_and_the_admin_are_not_rate_limited(client, settings):
    settings.GATEHOUSE_RATELIMIT_ANON = "1/min"
    ip = unique_ip()
    for _ in range(3):
        assert client.get("/healthz", REMOTE_ADDR=ip).status_code == 200
        assert "RateLimit-Limit" not in client.get("/admin/login/", REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_when_the_rate_limit_store_is_down_calls_go_through(client, settings):
    # A real Redis client aimed at a port nothing listens on: connection refused on every call.
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    edge.use_counter(edge.RedisCounter(client=dead))
    settings.GATEHOUSE_RATELIMIT_ANON = "1/min"
    before = edge.RATELIMIT_UNAVAILABLE._value.get()
    ip = unique_ip()
    statuses = [client.get("/api/v1/users/me", REMOTE_ADDR=ip).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert edge.RATELIMIT_UNAVAILABLE._value.get() == before + 3


# --- Body size, CORS, security headers -----------------------------------------------------------


@pytest.mark.django_db
def test_an_oversized_body_is_refused_with_413_before_it_is_read(client, settings):
    settings.GATEHOUSE_MAX_BODY_BYTES = 1000
    body = '{"email": "big@example.com", "password": "' + "x" * 2000 + '"}'
    response = client.post("/api/v1/auth/register", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "request_too_large",
        "message": "The request body is larger than 1000 bytes.",
        "details": {"max_bytes": 1000},
    }
    from users.interface import UserNotFound

    with pytest.raises(UserNotFound):
        user_service.get_user_by_email(email="big@example.com")


@pytest.mark.django_db
def test_a_body_at_the_limit_is_accepted(client, settings):
    body = '{"email": "fits@example.com", "password": "' + PASSWORD + '"}'
    settings.GATEHOUSE_MAX_BODY_BYTES = len(body)
    assert client.post("/api/v1/auth/register", body, content_type="application/json").status_code == 201


@pytest.mark.django_db
def test_a_chunked_body_without_a_length_is_411_under_the_api_not_read_as_empty(client):
    response = client.generic(
        "POST", "/api/v1/auth/register", b"", "application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert response.status_code == 411
    assert response.json()["error"]["code"] == "length_required"


@pytest.mark.django_db
def test_a_malformed_content_length_is_a_400_envelope(client):
    response = client.generic("POST", "/api/v1/auth/register", b"{}", "application/json", CONTENT_LENGTH="12x")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
def test_cors_answers_only_allowed_origins(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    preflight = {
        "HTTP_ORIGIN": "https://app.example.com",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type, idempotency-key",
    }
    allowed = client.options("/api/v1/auth/token", **preflight)
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "idempotency-key" in allowed["Access-Control-Allow-Headers"]

    preflight["HTTP_ORIGIN"] = "https://evil.example.net"
    assert "Access-Control-Allow-Origin" not in client.options("/api/v1/auth/token", **preflight)

    response = client.get("/api/v1/users/me", HTTP_ORIGIN="https://app.example.com")
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-Request-ID" in response["Access-Control-Expose-Headers"]
    assert "Retry-After" in response["Access-Control-Expose-Headers"]


@pytest.mark.django_db
def test_api_responses_carry_security_headers(client):
    response = client.get("/api/v1/users/me")
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    # The browsable docs are an HTML page that loads its own scripts: no API CSP there.
    assert "Content-Security-Policy" not in client.get("/api/docs/")


# --- Shared across processes (stack) -------------------------------------------------------------


def _get(port: int, path: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_two_web_processes(tmp_path, settings):
    """Two gunicorn processes behind a (simulated, trusted) proxy share one count through Redis:
    of 60 calls spread over both, exactly the limit get through."""
    limit = 25
    env = subprocess_env(
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        GATEHOUSE_RATELIMIT_ANON=f"{limit}/min",
        GATEHOUSE_TRUSTED_PROXIES="127.0.0.1",
    )
    webs = []
    try:
        for name in ("web-a", "web-b"):
            port = free_port()
            args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"]
            process = Process(name, args, env=env, log_dir=tmp_path)
            process.wait_until(lambda port=port: port_open(port) and _get(port, "/healthz", {}) == 200)
            webs.append((process, port))
        client_address = unique_ip()
        headers = {"X-Forwarded-For": client_address}
        statuses = [_get(webs[i % 2][1], "/api/v1/users/me", headers) for i in range(60)]
        passed = sum(status != 429 for status in statuses)
        print(f"\n60 calls over 2 processes x 2 workers, limit {limit}: {passed} passed, {60 - passed} refused")
        assert passed == limit
        assert set(statuses) == {401, 429}
        # The bucket is the client's, not the proxy's: another client still gets through.
        assert _get(webs[0][1], "/api/v1/users/me", {"X-Forwarded-For": unique_ip()}) == 401
        # A chunked body reaches gunicorn without a length: refused, not read as empty.
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", webs[1][1], timeout=10)
        body = iter([b'{"email": "chunk@example.com", ', b'"password": "a-Long-enough-passphrase-42"}'])
        connection.request(
            "POST",
            "/api/v1/auth/register",
            body=body,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 411, response.read()
        connection.close()
    finally:
        for process, _ in webs:
            process.stop()
