"""A live Gatehouse (docs/scim.md): gunicorn serving the monolith, or the split shape where the web
process reaches the users, auth and permissions services over gRPC. scim2-tester, a SCIM compliance
checker nobody here wrote, finds no failure on what ServiceProviderConfig announces; and a user
deprovisioned through SCIM is refused at their next request."""

from __future__ import annotations

import sys
import urllib.request
import uuid
from typing import Annotated

import httpx2
import pytest
import requests
from pydantic import Field
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import EnterpriseUser, Group, Required, ResourceType, ScimProvider, Uniqueness, User
from scim2_tester import Status, check_server

from scim.tokens import token_create
from tests.rpc.servers import start_grpcserve
from tests.support.processes import Process, free_port, port_open, subprocess_env
from users.interface import user_service

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["monolith", "split"])
def gatehouse(request, transactional_db, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env, servers = {}, []
    if request.param == "split":
        for service in ("users", "auth", "permissions"):
            server = start_grpcserve(tmp_path, service, name=service, CELERY_BROKER_URL="")
            servers.append(server)
            env[f"{service.upper()}_GRPC_TARGET"] = server.target
    args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"]
    process = Process("gatehouse", args, env=subprocess_env(**env), log_dir=tmp_path)
    try:
        process.wait_until(lambda: port_open(port), timeout=60, what="listening")
        # Workers boot after the port opens: on a busy machine the first answer takes seconds.
        urllib.request.urlopen(f"{base}/healthz", timeout=60).close()
        yield base
    finally:
        process.stop()
        for server in servers:
            server.process.stop()


class _FreshEmails(list):
    """The checker picks a userName among a field's examples: each pick is a new address."""

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return f"{uuid.uuid4().hex}@example.com"


class EmailUser(User):
    """SCIM's User, told what Gatehouse requires (docs/scim.md): userName is an email address
    (random strings are refused with 400 invalidValue), and the checker's users start active (a
    deactivated user cannot be reactivated yet, so a check that removes `active` from a user it
    made inactive would fail by a coin toss)."""

    user_name: Annotated[str | None, Uniqueness.server, Required.true, Field(examples=_FreshEmails())] = None
    active: Annotated[bool | None, Field(examples=[True])] = None


def test_scim2_tester_finds_no_failure(gatehouse):
    _, secret = token_create(name="scim2-tester")
    http = httpx2.Client(base_url=f"{gatehouse}/scim/v2", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    provider = ScimProvider(
        models=[EmailUser, EnterpriseUser, Group],
        resource_types=[ResourceType.from_resource(EmailUser[EnterpriseUser]), ResourceType.from_resource(Group)],
    )
    results = check_server(SyncSCIMClient(http, provider=provider))
    failures = [
        f"{r.status.name} {r.resource_type or ''} {r.title}: {r.reason}" for r in results if r.status in _FAILED
    ]
    assert not failures, "\n".join(failures)
    assert sum(r.status == Status.SUCCESS for r in results) > 20


# MUST and MUST NOT of RFC 7643/7644 broken; the features the configuration does not announce (bulk,
# sort, change of password) are reported SKIPPED.
_FAILED = {Status.ERROR, Status.CRITICAL}


def test_deprovisioning_stops_a_signed_in_users_next_request(gatehouse):
    password = "a-Long-unguessable-passphrase-42"
    ada = user_service.create_user(email="ada@example.com", password=password, is_verified=True)
    signed_in = requests.post(
        f"{gatehouse}/api/v1/auth/token", json={"email": "ada@example.com", "password": password}, timeout=30
    ).json()
    me = {"Authorization": f"Bearer {signed_in['access_token']}"}
    assert requests.get(f"{gatehouse}/api/v1/users/me", headers=me, timeout=30).status_code == 200

    _, secret = token_create(name="Okta")
    response = requests.patch(
        f"{gatehouse}/scim/v2/Users/{ada.id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/scim+json"},
        timeout=30,
    )
    assert response.status_code in (200, 204), response.text
    assert requests.get(f"{gatehouse}/api/v1/users/me", headers=me, timeout=30).status_code == 401
