"""Token attacks against every process that verifies tokens: the web process (in-process and a real
gunicorn server) and the gRPC AuthService's VerifyAccessToken. tests/auth/test_access_tokens.py
holds each RFC 8725 forgery as its own test against the web code; here the same set runs
against every verifier at once, plus key rotation across processes, refresh-token reuse seen by
another process, the one-time tokens (single use, expiry, never a bearer token), and a real
server's logs, which must never hold a token."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from auth.core import keys
from auth.interface import (
    EMAIL_VERIFICATION_REQUESTED,
    PASSWORD_RESET_REQUESTED,
    InvalidToken,
)
from auth.models import OneTimeToken, SigningKey
from auth.rpc.client import GrpcAuthService
from project.events.models import OutboxEvent
from project.events.relay import relay_all
from tests.auth.conftest import sealed_token
from tests.auth.test_access_tokens import b64, hs256, public_key_forms, rs256, signed, unsigned
from tests.rpc.servers import start_grpcserve
from tests.support.factories import PASSWORD, SessionFactory
from users.interface import user_service

from .conftest import Web, new_user

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "another-Long-passphrase-77"


def forgeries(genuine_token: str, refresh_token: str) -> dict[str, str]:
    """RFC 8725's attacks, each built from a genuine token (only what the name says is wrong)."""
    header = jwt.get_unverified_header(genuine_token)
    claims = jwt.decode(genuine_token, options={"verify_signature": False})
    now = int(time.time())
    leeway = django_settings.GATEHOUSE_TOKEN_LEEWAY
    kid, private_key = keys.signing_key()
    foreign_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    head, payload, signature = genuine_token.split(".")
    made = {
        "alg none": unsigned({**header, "alg": "none"}, claims),
        "alg NONE": unsigned({**header, "alg": "NONE"}, claims),
        "HS256 keyed with the public PEM": hs256({**header, "alg": "HS256"}, claims, public_key_forms()["pem"]),
        "HS256 keyed with the public JWK": hs256({**header, "alg": "HS256"}, claims, public_key_forms()["jwk"]),
        "HS512 keyed with the public PEM": _hs512({**header, "alg": "HS512"}, claims, public_key_forms()["pem"]),
        "RS256 from a foreign key, copied kid": jwt.encode(
            claims, foreign_rsa, algorithm="RS256", headers={"kid": header["kid"]}
        ),
        "ES256 from a foreign key, copied kid": jwt.encode(
            claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": header["kid"]}
        ),
        "PS256 in the header": f"{b64({**header, 'alg': 'PS256'})}.{payload}.{signature}",
        "foreign key embedded (jwk, jku)": jwt.encode(
            claims,
            foreign_rsa,
            algorithm="RS256",
            headers={
                "kid": header["kid"],
                "jwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(foreign_rsa.public_key())),
                "jku": "https://attacker.example/jwks.json",
            },
        ),
        "unknown kid": rs256({"alg": "RS256", "typ": "at+jwt", "kid": "unknown"}, claims, private_key),
        "no kid": rs256({"alg": "RS256", "typ": "at+jwt"}, claims, private_key),
        "tampered subject": f"{head}.{b64({**claims, 'sub': str(uuid.uuid4())})}.{signature}",
        "tampered expiry": f"{head}.{b64({**claims, 'exp': claims['exp'] + 3600})}.{signature}",
        "tampered signature": f"{head}.{payload}.{signature[:5]}{'A' if signature[5] != 'A' else 'B'}{signature[6:]}",
        "expired beyond the leeway": signed({**claims, "iat": now - 900, "nbf": now - 900, "exp": now - leeway - 5}),
        "not valid before": signed({**claims, "nbf": now + leeway + 60, "exp": now + 600}),
        "issued in the future": signed({**claims, "iat": now + leeway + 60, "exp": now + 600}),
        "wrong audience": signed({**claims, "aud": "someone-else"}),
        "wrong issuer": signed({**claims, "iss": "https://attacker.example"}),
        "typ JWT": rs256({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, private_key),
        "no typ": rs256({"alg": "RS256", "kid": kid}, claims, private_key),
        "unknown session": signed({**claims, "sid": str(uuid.uuid4())}),
        "malformed subject": signed({**claims, "sub": "not-a-uuid"}),
        "the refresh token": refresh_token,
        "empty": "",
        "garbage": "eyJ.garbage.",
    }
    for claim in ("iss", "aud", "sub", "sid", "jti", "exp", "nbf", "iat"):
        made[f"missing {claim}"] = signed({k: v for k, v in claims.items() if k != claim})
    return made


def _hs512(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(claims)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha512).digest())}"


# --- verifiers -----------------------------------------------------------------------------------------


def rest_verifier() -> Callable[[str], bool]:
    client = APIClient()

    def accepts(token: str) -> bool:
        status = client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code
        assert status in (200, 401), status
        return status == 200

    return accepts


def grpc_verifier(target: str) -> Callable[[str], bool]:
    remote = GrpcAuthService(target=target)

    def accepts(token: str) -> bool:
        try:
            remote.verify_access_token(token=token)
        except InvalidToken:
            return False
        return True

    return accepts


def web_verifier(web: Web) -> Callable[[str], bool]:
    def accepts(token: str) -> bool:
        status, _ = web.call("GET", "/api/v1/users/me", token=token)
        assert status in (200, 401), status
        return status == 200

    return accepts


@pytest.fixture
def auth_grpc(transactional_db, tmp_path):
    server = start_grpcserve(tmp_path, "auth", name="auth-grpc", GATEHOUSE_SIGNING_KEY_CACHE_SECONDS="1")
    yield server
    server.process.stop()


@pytest.fixture
def web(transactional_db, tmp_path):
    # Events run in the server's process; a rotated refresh token is reuse at once (no grace).
    # Mail stays in the server's memory: the console backend would print the tokens it carries
    # (which `check --deploy` warns about, gatehouse.W001).
    server = Web(
        "web-tokens",
        log_dir=tmp_path,
        CELERY_BROKER_URL="",
        EMAIL_URL="memorymail://",
        LOG_LEVEL="DEBUG",
        GATEHOUSE_REFRESH_REUSE_GRACE="0",
    )
    yield server
    server.stop()


def test_every_verifier_refuses_every_forgery_and_accepts_the_genuine_token(auth_grpc, web, tally):
    user = new_user()
    pair = SessionFactory(user=user)
    access, refresh = pair.access_token, pair.refresh_token
    verifiers = {"web (in-process)": rest_verifier(), "gRPC AuthService": grpc_verifier(auth_grpc.target)}
    verifiers["web (gunicorn)"] = web_verifier(web)
    made = forgeries(access, refresh)
    accepted = []
    for name, accepts in verifiers.items():
        # The control: the genuine token and a copy re-signed with the real key pass everywhere.
        for control in (access, signed(jwt.decode(access, options={"verify_signature": False}))):
            tally.record(accepts(control))
            assert accepts(control), name
        for forgery, token in made.items():
            refused = not accepts(token)
            tally.record(refused)
            if not refused:
                accepted.append((name, forgery))
    print(f"verifiers {len(verifiers)}, forgeries {len(made)}")
    assert not accepted, accepted


def test_a_rotated_key_verifies_everywhere_until_its_publication_ends_then_nowhere(auth_grpc, tally):
    user = new_user()
    remote = grpc_verifier(auth_grpc.target)
    local = rest_verifier()
    old_access = SessionFactory(user=user).access_token
    old_kid = jwt.get_unverified_header(old_access)["kid"]
    assert remote(old_access) and local(old_access)  # the gRPC process now holds the old key set

    new_key = keys.signing_key_create()
    new_access = SessionFactory(user=user).access_token
    assert jwt.get_unverified_header(new_access)["kid"] == new_key.kid
    time.sleep(1.1)  # a process looks for a key it does not know at most once a second
    for verifier in (remote, local):
        for token in (old_access, new_access):
            tally.record(verifier(token))
            assert verifier(token), "the overlap: both keys verify"

    # Every token the old key signed has expired: its publication ends, the key is pruned.
    SigningKey.objects.filter(kid=old_kid).update(publish_until=timezone.now() - timedelta(seconds=1))
    assert keys.signing_keys_prune() == 1
    started = time.monotonic()
    while remote(old_access) and time.monotonic() - started < 5:
        time.sleep(0.1)
    refused_after = time.monotonic() - started
    print(f"old key refused by the gRPC process {refused_after:.2f}s after the prune (cache 1 s)")
    tally.record(not remote(old_access))
    assert not remote(old_access)
    assert refused_after < 2.5
    assert not local(old_access)
    assert remote(new_access) and local(new_access)


def test_a_cached_key_stops_verifying_the_moment_its_publication_ends(tally):
    user = new_user()
    access = SessionFactory(user=user).access_token
    kid = jwt.get_unverified_header(access)["kid"]
    keys.signing_key_create()
    SigningKey.objects.filter(kid=kid).update(publish_until=timezone.now() + timedelta(seconds=1))
    keys._cache.invalidate()
    verify = rest_verifier()
    assert verify(access)  # loaded now; the next refresh is a minute away
    time.sleep(1.2)
    tally.record(not verify(access))
    assert not verify(access)


def test_refresh_reuse_seen_by_one_process_revokes_the_family_for_every_verifier(auth_grpc, web, tally):
    user = new_user()
    pair = SessionFactory(user=user)
    access, refresh = pair.access_token, pair.refresh_token
    status, rotated = web.call("POST", "/api/v1/auth/token/refresh", {"refresh_token": refresh})
    assert status == 200
    time.sleep(0.1)
    # The rotated-away token comes back: reuse. The whole session goes, on every verifier.
    status, body = web.call("POST", "/api/v1/auth/token/refresh", {"refresh_token": refresh})
    tally.record(status == 401, status)
    assert status == 401, body
    for name, accepts in {
        "gunicorn": web_verifier(web),
        "gRPC": grpc_verifier(auth_grpc.target),
        "in-process": rest_verifier(),
    }.items():
        for token in (access, rotated["access_token"]):
            tally.record(not accepts(token))
            assert not accepts(token), name
    status, _ = web.call("POST", "/api/v1/auth/token/refresh", {"refresh_token": rotated["refresh_token"]})
    tally.record(status == 401, status)
    assert status == 401


# --- one-time tokens -------------------------------------------------------------------------------------


def one_time_token(event_type: str, user_id: uuid.UUID) -> str:
    row = OutboxEvent.objects.filter(type=event_type, payload__user_id=str(user_id)).order_by("-occurred_at").first()
    assert row is not None, f"no {event_type} for {user_id}"
    return sealed_token(row.payload)


def test_one_time_tokens_are_single_use_expire_and_are_never_bearer_tokens(auth_grpc, settings, tally):
    settings.CELERY_BROKER_URL = ""  # the auth consumer runs in this process, in both modes
    client = APIClient()
    assert (
        client.post(
            "/api/v1/auth/register", {"email": "otto@example.com", "password": PASSWORD}, format="json"
        ).status_code
        == 201
    )
    while relay_all():
        pass
    user = user_service.get_user_by_email(email="otto@example.com")
    verification = one_time_token(EMAIL_VERIFICATION_REQUESTED, user.id)
    assert client.post("/api/v1/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    while relay_all():
        pass
    reset = one_time_token(PASSWORD_RESET_REQUESTED, user.id)

    verifiers = {"web": rest_verifier(), "gRPC": grpc_verifier(auth_grpc.target)}
    for name, accepts in verifiers.items():
        for token in (verification, reset):
            tally.record(not accepts(token))
            assert not accepts(token), name

    # A token of one kind does nothing for the other.
    crossed = client.post(
        "/api/v1/auth/password/reset/confirm", {"token": verification, "new_password": NEW_PASSWORD}, format="json"
    )
    tally.record(crossed.status_code == 400, crossed.status_code)
    assert crossed.status_code == 400

    # Single use.
    for path, body in (
        ("/api/v1/auth/verify-email", {"token": verification}),
        ("/api/v1/auth/password/reset/confirm", {"token": reset, "new_password": NEW_PASSWORD}),
    ):
        first, second = client.post(path, body, format="json"), client.post(path, body, format="json")
        tally.record(first.status_code in (200, 204), first.status_code)
        tally.record(second.status_code == 400, second.status_code)
        assert first.status_code in (200, 204) and second.status_code == 400, (path, first.content, second.content)
    assert user_service.check_password(user_id=user.id, password=NEW_PASSWORD)

    # Expiry: a fresh reset token, used after its lifetime, changes nothing.
    assert client.post("/api/v1/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    while relay_all():
        pass
    late = one_time_token(PASSWORD_RESET_REQUESTED, user.id)
    OneTimeToken.objects.filter(user_id=user.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.post(
        "/api/v1/auth/password/reset/confirm", {"token": late, "new_password": "yet-Another-pass-31"}, format="json"
    )
    tally.record(expired.status_code == 400, expired.status_code)
    assert expired.status_code == 400
    assert user_service.check_password(user_id=user.id, password=NEW_PASSWORD)


# --- logs --------------------------------------------------------------------------------------------------


def test_no_token_ever_reaches_a_real_servers_logs(web, tally):
    """Register, verify, log in, refresh, reset the password and log out through a gunicorn
    process logging at DEBUG; then look for every token value in everything it wrote."""
    secrets: list[str] = []

    def call(method, path, body=None, token=None, expect=None):
        status, answer = web.call(method, path, body, token=token)
        tally.record(expect is None or status == expect, status)
        if expect is not None:
            assert status == expect, (path, status, answer)
        return answer

    call("POST", "/api/v1/auth/register", {"email": "lena@example.com", "password": PASSWORD}, expect=201)
    user = user_service.get_user_by_email(email="lena@example.com")
    verification = one_time_token(EMAIL_VERIFICATION_REQUESTED, user.id)
    secrets.append(verification)
    call("POST", "/api/v1/auth/verify-email", {"token": verification}, expect=200)
    call("POST", "/api/v1/auth/verify-email", {"token": verification}, expect=400)  # logged as a failure
    pair = call("POST", "/api/v1/auth/token", {"email": user.email, "password": PASSWORD}, expect=200)
    secrets += [pair["access_token"], pair["refresh_token"]]
    refreshed = call("POST", "/api/v1/auth/token/refresh", {"refresh_token": pair["refresh_token"]}, expect=200)
    secrets += [refreshed["access_token"], refreshed["refresh_token"]]
    call("GET", "/api/v1/users/me", token=refreshed["access_token"], expect=200)
    call("GET", "/api/v1/users/me", token=refreshed["access_token"] + "x", expect=401)  # a refused token
    call("POST", "/api/v1/auth/password/reset", {"email": user.email}, expect=202)
    reset = one_time_token(PASSWORD_RESET_REQUESTED, user.id)
    secrets.append(reset)
    call("POST", "/api/v1/auth/password/reset/confirm", {"token": reset, "new_password": NEW_PASSWORD}, expect=204)
    call("POST", "/api/v1/auth/password/reset/confirm", {"token": reset, "new_password": NEW_PASSWORD}, expect=400)
    pair = call("POST", "/api/v1/auth/token", {"email": user.email, "password": NEW_PASSWORD}, expect=200)
    secrets += [pair["access_token"], pair["refresh_token"]]
    call("POST", "/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]}, expect=204)

    web.stop()
    log = web.process.output()
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert len(lines) >= tally.made, "the server did not log its requests"
    for record in lines:
        json.loads(record)  # every line is a JSON log record
    # A signature is the secret part of a JWT; header and claims are not secret but are looked for too.
    fragments = set(secrets) | {s.split(".")[-1] for s in secrets if s.count(".") == 2}
    leaked = [line for fragment in fragments if fragment for line in log.splitlines() if fragment in line]
    # Nor the password, in any field.
    leaked += [p for p in (PASSWORD, NEW_PASSWORD) if p in log]
    print(f"log lines {len(lines)}, secrets looked for {len(fragments) + 2}, found {len(leaked)}")
    assert not leaked, leaked
    assert re.search(r'"path": "/api/v1/auth/verify-email"', log), "the access log is missing"
