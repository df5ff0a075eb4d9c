"""One contract suite, two implementations: every test that takes `auth` runs against
LocalAuthService in this process and against GrpcAuthService talking to a real
`manage.py grpcserve auth users` subprocess. A difference between the two is a bug.

`transactional_db`, not `db`: the server is another process, so test data must be committed to
be visible to it (and a remote call inside a transaction is refused anyway). Users are created
in this process; the server reaches the users service in its own process, on the same database.

Settings the tests depend on reach both sides: the server process gets them as environment
variables, this process as overrides.
"""

from __future__ import annotations

import time
import uuid

import pyotp
import pytest

from auth.interface import ONE_TIME_TOKEN_SEAL, AuthService, ClientInfo, TokenPair
from auth.local import LocalAuthService
from auth.rpc.client import GrpcAuthService
from project.crypto import unseal_for
from project.events.models import OutboxEvent
from tests.rpc.servers import start_grpcserve
from tests.support.factories import PASSWORD, UserFactory
from users.interface import User

NEW_PASSWORD = "another-Long-passphrase-7-of-ours"
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="contract-tests/1.0")

# Small enough to reach in a test, and the same in both processes.
SHARED_SETTINGS = {
    "GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP": 8,
    # Seconds: short, so that a test can outwait it.
    "GATEHOUSE_REFRESH_REUSE_GRACE": 2,
    # As deployed (the rest of the suite runs with it off): unverified users may not sign in.
    "GATEHOUSE_REQUIRE_VERIFIED_EMAIL": True,
    # Holders of the `admin` role sign in with a passkey only (test_passkeys.py).
    "GATEHOUSE_PHISHING_RESISTANT_MFA_FOR": ["admin"],
}


@pytest.fixture(scope="session")
def auth_grpc_server(django_db_setup, django_db_blocker, tmp_path_factory):
    env = {name: ",".join(value) if isinstance(value, list) else str(value) for name, value in SHARED_SETTINGS.items()}
    # Every test empties the database, signing keys included: the server must not keep a key from a
    # test before (its per-process copy would, for GATEHOUSE_SIGNING_KEY_CACHE_SECONDS, and then a
    # reload mid-test no longer finds the key that signed the test's tokens).
    env["GATEHOUSE_SIGNING_KEY_CACHE_SECONDS"] = "0"
    with django_db_blocker.unblock():
        server = start_grpcserve(tmp_path_factory.mktemp("auth-contract"), "auth", "users", name="auth-contract", **env)
    yield server
    server.process.stop()


@pytest.fixture
def _shared_settings(settings):
    for name, value in SHARED_SETTINGS.items():
        setattr(settings, name, value)


@pytest.fixture(params=["local", "grpc"])
def auth(request, transactional_db, _shared_settings) -> AuthService:
    if request.param == "local":
        return LocalAuthService()
    return GrpcAuthService(target=request.getfixturevalue("auth_grpc_server").target)


@pytest.fixture
def both(transactional_db, _shared_settings, auth_grpc_server) -> tuple[AuthService, AuthService]:
    """The two implementations side by side, for comparing their answers directly."""
    return LocalAuthService(), GrpcAuthService(target=auth_grpc_server.target)


@pytest.fixture
def ada(transactional_db) -> User:
    return UserFactory(email="ada@example.com")


def login(auth: AuthService, email: str = "ada@example.com", password: str = PASSWORD, **kwargs) -> TokenPair:
    kwargs.setdefault("client", CLIENT)
    return auth.login(email=email, password=password, **kwargs)


def totp_on(auth: AuthService, user: User) -> tuple[pyotp.TOTP, tuple[str, ...]]:
    """Turn TOTP on for `user`; its generator and recovery codes."""
    enrollment = auth.enroll_totp(user_id=user.id, password=PASSWORD)
    totp = pyotp.TOTP(enrollment.secret)
    auth.confirm_totp(user_id=user.id, otp=totp.now())
    return totp, enrollment.recovery_codes


def next_code(totp: pyotp.TOTP) -> str:
    """A code of the next time step: accepted (clocks drift) and not yet used, unlike `now()`'s
    code once it has been."""
    return totp.at(time.time() + totp.interval)


def events(type: str, *, user_id: uuid.UUID) -> list[OutboxEvent]:
    """The recorded events of `type` about the user, oldest first."""
    return [row for row in OutboxEvent.objects.filter(type=type) if row.payload.get("user_id") == str(user_id)]


def one_time_token(type: str, *, user_id: uuid.UUID) -> str:
    """The token in the latest `type` event about the user, as the mail would carry it."""
    payload = events(type, user_id=user_id)[-1].payload
    return unseal_for(payload["sealed_token"], purpose=ONE_TIME_TOKEN_SEAL, subject=payload["user_id"])


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that no accepted time step produces right now."""
    now = time.time()
    accepted = {totp.at(now + step * totp.interval) for step in (-2, -1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)
