"""Passkeys in the split shape, on the real stack: a gunicorn web process with AUTH_GRPC_TARGET set
(the gateway and the auth API) and `manage.py grpcserve auth` behind it, the passkey ceremonies
made over HTTP by a software authenticator. Stack mode only; the contract suite
(tests/auth/contract/test_passkeys.py) covers each call over both transports."""

from __future__ import annotations

import sys

import pytest
from django.conf import settings as django_settings

from tests.rpc.servers import start_grpcserve
from tests.support.factories import PASSWORD
from tests.support.processes import Process, free_port, port_open, subprocess_env
from users.interface import user_service

from .authenticator import SoftAuthenticator
from .test_stack import Web

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


class SplitWeb(Web):
    """Web's calls, on a gunicorn process whose auth service is a gRPC server."""

    def __init__(self, *, auth_target: str, log_dir):
        self.port = free_port()
        env = subprocess_env(
            DEBUG="0",
            SECRET_KEY=django_settings.SECRET_KEY,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            CELERY_BROKER_URL="",
            AUTH_GRPC_TARGET=auth_target,
        )
        args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{self.port}", "-w", "1"]
        self.process = Process("web-split", args, env=env, log_dir=log_dir)
        self.process.wait_until(lambda: port_open(self.port) and self.call("GET", "/healthz")[0] == 200)


@pytest.fixture
def split(transactional_db, tmp_path):
    auth = start_grpcserve(tmp_path, "auth", name="auth", CELERY_BROKER_URL="")
    web = None
    try:
        web = SplitWeb(auth_target=auth.target, log_dir=tmp_path)
        yield web, auth
    finally:
        if web is not None:
            web.process.stop()
        auth.process.stop()


def test_a_passkey_registers_and_signs_in_through_the_gateway_with_the_auth_service_over_grpc(split):
    web, auth = split
    user_service.create_user(email="ada@example.com", password=PASSWORD, is_verified=True)
    token = web.login()["access_token"]
    authenticator = SoftAuthenticator()
    status, options = web.call("POST", "/api/v1/auth/passkeys/register/options", token=token)
    assert status == 200, options
    status, body = web.call(
        "POST", "/api/v1/auth/passkeys/register", {"credential": authenticator.create(options)}, token=token
    )
    assert status == 201, body

    status, options = web.call("POST", "/api/v1/auth/passkeys/login/options", {})
    assert status == 200, options
    credential = authenticator.get(options)
    status, pair = web.call("POST", "/api/v1/auth/passkeys/login", {"credential": credential})
    assert status == 200, pair
    assert web.me(pair["access_token"]) == 200
    status, replayed = web.call("POST", "/api/v1/auth/passkeys/login", {"credential": credential})
    assert status == 401 and replayed["error"]["code"] == "invalid_credentials"

    served = " ".join(str(record) for record in auth.log_records())
    assert "RegisterPasskey" in served and "LoginWithPasskey" in served  # the auth service answered them
