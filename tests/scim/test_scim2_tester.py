"""A live Gatehouse (docs/scim.md): gunicorn serving the monolith, or the split shape where the web
process reaches the users, auth and permissions services over gRPC. scim2-tester, a SCIM compliance
checker nobody here wrote, finds no failure on what ServiceProviderConfig announces; and a user
deprovisioned through SCIM is refused at their next request."""

from __future__ import annotations

import uuid
from typing import Annotated

import httpx2
import pytest
import requests
from pydantic import EmailStr, Field
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Email, EnterpriseUser, Group, Required, ResourceType, ScimProvider, Uniqueness, User
from scim2_tester import Status, check_server

from scim.tokens import token_create
from tests.support.live import live_gatehouse
from users.interface import user_service
from users.interface.orgs import org_scope, org_service

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["monolith", "split"])
def gatehouse(request, transactional_db, tmp_path):
    split = ("users", "auth", "permissions") if request.param == "split" else ()
    with live_gatehouse(tmp_path, split=split) as base:
        yield base


class _FreshEmails(list):
    """The checker picks a userName among a field's examples: each pick is a new address."""

    def __init__(self, domain: str = "example.com"):
        super().__init__()
        self.domain = domain

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return f"{uuid.uuid4().hex}@{self.domain}"


class EmailUser(User):
    """SCIM's User, told what Gatehouse requires (docs/scim.md): userName is an email address
    (random strings are refused with 400 invalidValue), and the checker's users start active (a
    check that removes `active` from a user it made inactive expects it to be active again; in
    Gatehouse only `active: true` reactivates, an omitted `active` leaves the user as it is)."""

    user_name: Annotated[str | None, Uniqueness.server, Required.true, Field(examples=_FreshEmails())] = None
    active: Annotated[bool | None, Field(examples=[True])] = None


class AcmeEmail(Email):
    value: Annotated[EmailStr | None, Field(examples=_FreshEmails("acme.example"))] = None


class AcmeUser(EmailUser):
    """Under Acme's token: its addresses (`userName`, and `emails`, work or primary ones among them)
    are at Acme's verified domain, the only ones an organization token may write (docs/scim.md)."""

    user_name: Annotated[str | None, Uniqueness.server, Required.true, Field(examples=_FreshEmails("acme.example"))] = (
        None
    )
    emails: list[AcmeEmail] | None = None


def _check(base: str, secret: str, resource_types: list[str] | None = None, user_model: type[User] = EmailUser) -> None:
    http = httpx2.Client(base_url=f"{base}/scim/v2", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    provider = ScimProvider(
        models=[user_model, EnterpriseUser, Group],
        resource_types=[ResourceType.from_resource(user_model[EnterpriseUser]), ResourceType.from_resource(Group)],
    )
    results = check_server(SyncSCIMClient(http, provider=provider), resource_types=resource_types)
    failures = [
        f"{r.status.name} {r.resource_type or ''} {r.title}: {r.reason}" for r in results if r.status in _FAILED
    ]
    assert not failures, "\n".join(failures)
    assert sum(r.status == Status.SUCCESS for r in results) > 20


def test_scim2_tester_finds_no_failure(gatehouse):
    _, secret = token_create(name="scim2-tester")
    _check(gatehouse, secret)


@pytest.fixture
def monolith(transactional_db, tmp_path):
    with live_gatehouse(tmp_path) as base:
        yield base


def test_scim2_tester_finds_no_failure_on_users_under_an_organization_token(monolith):
    """Users only: an organization's groups are its three roles, which a token neither creates nor
    deletes (403), as the checker's Group checks would."""
    owner = user_service.create_user(email="owner@acme.example", is_verified=True)
    org = org_service.create_org(actor_id=owner.id, name="Acme", slug="acme")
    org_service.confirm_domain(org_id=org.id, domain="acme.example")  # an org token writes only there
    _, secret = token_create(name="scim2-tester", org_id=org.id)
    _check(monolith, secret, resource_types=["User"], user_model=AcmeUser)


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


def test_org_token_deprovisioning_stops_the_next_request(gatehouse):
    """Under an organization's token: an account the org alone holds is deactivated (its next
    request refused); an account that exists beyond the org loses the org's grants at once and
    keeps its sessions."""
    password = "a-Long-unguessable-passphrase-42"
    owner = user_service.create_user(email="owner@acme.example", is_verified=True)
    org = org_service.create_org(actor_id=owner.id, name="Acme", slug="acme")
    org_service.confirm_domain(org_id=org.id, domain="acme.example")
    _, secret = token_create(name="Okta", org_id=org.id)
    scim = {"Authorization": f"Bearer {secret}", "Content-Type": "application/scim+json"}
    made = requests.post(
        f"{gatehouse}/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.example"},
        headers=scim,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    ada = uuid.UUID(made.json()["id"])
    user_service.set_password(user_id=ada, password=password)
    joe = user_service.create_user(email="joe@example.com", password=password, is_verified=True)
    org_service.add_member(actor_id=None, org_id=org.id, user_id=joe.id, role="member")

    def signed_in(email):
        body = {"email": email, "password": password}
        tokens = requests.post(f"{gatehouse}/api/v1/auth/token", json=body, timeout=30).json()
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    def views_org(headers):
        check = {"permission": "orgs.org.view", "scope": org_scope(org.id)}
        response = requests.post(f"{gatehouse}/api/v1/rbac/check", json=check, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["allowed"]

    ada_api, joe_api = signed_in("ada@acme.example"), signed_in("joe@example.com")
    assert views_org(ada_api) and views_org(joe_api)
    for user_id in (ada, joe.id):
        response = requests.delete(f"{gatehouse}/scim/v2/Users/{user_id}", headers=scim, timeout=30)
        assert response.status_code == 204, response.text
    assert requests.get(f"{gatehouse}/api/v1/users/me", headers=ada_api, timeout=30).status_code == 401
    assert requests.get(f"{gatehouse}/api/v1/users/me", headers=joe_api, timeout=30).status_code == 200
    assert not views_org(joe_api)
