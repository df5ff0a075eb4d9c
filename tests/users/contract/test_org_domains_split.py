"""Split shape: verified domains and joining by domain through the REST API of this process, with
the org service in a real `manage.py grpcserve users` process whose DNS lookups go to a real
DNS server on loopback (GATEHOUSE_DNS_RESOLVER in its environment). The same answers and error
codes as in one process (tests/orgs/test_domains.py), and `require_mfa` on the new routes."""

from __future__ import annotations

import pytest

from project.kernel.delegation import provide, provided
from tests.orgs.conftest import DnsServer, turn_on_totp
from tests.rpc.servers import start_grpcserve
from tests.support.factories import UserFactory
from tests.support.http import client_for, error_of
from users.interface.orgs import SERVICE_NAME, OrgService
from users.rpc.orgs import GrpcOrgService

ORGS = "/api/v1/orgs"


@pytest.fixture(scope="module")
def dns():
    server = DnsServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def users_with_dns(django_db_setup, django_db_blocker, tmp_path_factory, dns):
    with django_db_blocker.unblock():
        server = start_grpcserve(
            tmp_path_factory.mktemp("users-domains"), "users", name="users-domains", GATEHOUSE_DNS_RESOLVER=dns.address
        )
    yield server
    server.process.stop()


@pytest.fixture
def remote_orgs(transactional_db, users_with_dns):
    installed = provided(SERVICE_NAME)
    provide(SERVICE_NAME, GrpcOrgService(target=users_with_dns.target), interface=OrgService)
    yield
    provide(SERVICE_NAME, installed, interface=OrgService)


def test_domains_and_joining_work_the_same_with_the_org_service_behind_grpc(remote_orgs, dns):
    assert isinstance(provided(SERVICE_NAME), GrpcOrgService)
    owner, rival_owner = UserFactory(), UserFactory()
    api, rival_api = client_for(owner), client_for(rival_owner)
    org_id = api.post(ORGS, {"name": "Acme", "slug": "acme-split"}, format="json").json()["id"]
    rival_id = rival_api.post(ORGS, {"name": "Rival", "slug": "rival-split"}, format="json").json()["id"]

    junk = api.post(f"{ORGS}/{org_id}/domains", {"domain": "not a domain"}, format="json")
    assert (junk.status_code, error_of(junk)["code"]) == (400, "validation_error")
    claimed = api.post(f"{ORGS}/{org_id}/domains", {"domain": "Split.Example."}, format="json").json()
    theirs = rival_api.post(f"{ORGS}/{rival_id}/domains", {"domain": "split.example"}, format="json").json()
    assert claimed["domain"] == "split.example" and claimed["token"]

    missing = api.post(f"{ORGS}/{org_id}/domains/{claimed['id']}/verify")
    assert (missing.status_code, error_of(missing)["code"]) == (409, "domain_verification_failed")
    assert error_of(missing)["details"]["reason"] == "missing"
    dns.txt["_gatehouse-challenge.split.example"] = ["wrong"]
    assert error_of(api.post(f"{ORGS}/{org_id}/domains/{claimed['id']}/verify"))["details"]["reason"] == "mismatch"
    dns.txt["_gatehouse-challenge.split.example"] = [claimed["token"], theirs["token"]]
    verified = api.post(f"{ORGS}/{org_id}/domains/{claimed['id']}/verify")
    assert (verified.status_code, verified.json()["status"]) == (200, "verified")

    taken = rival_api.post(f"{ORGS}/{rival_id}/domains/{theirs['id']}/verify")
    assert (taken.status_code, error_of(taken)["code"]) == (409, "domain_taken")
    probe = rival_api.get(f"{ORGS}/{org_id}/domains")
    assert (probe.status_code, error_of(probe)["code"]) == (404, "org_not_found")
    nested = rival_api.delete(f"{ORGS}/{rival_id}/domains/{claimed['id']}")
    assert (nested.status_code, error_of(nested)["code"]) == (404, "domain_not_found")

    joiner = UserFactory(email="someone@split.example")
    joiner_api = client_for(joiner)
    assert joiner_api.post(f"{ORGS}/{org_id}/join").status_code == 404  # domain_join off
    assert api.patch(f"{ORGS}/{org_id}", {"domain_join": "allow"}, format="json").json()["domain_join"] == "allow"
    assert [o["id"] for o in joiner_api.get(f"{ORGS}/joinable").json()] == [org_id]
    joined = joiner_api.post(f"{ORGS}/{org_id}/join")
    assert (joined.status_code, joined.json()["role"]) == (200, "member")
    again = joiner_api.post(f"{ORGS}/{org_id}/join")
    assert (again.status_code, error_of(again)["code"]) == (409, "already_member")

    # The policy holds on the new routes too, over gRPC.
    api = turn_on_totp(owner)
    assert api.patch(f"{ORGS}/{org_id}", {"require_mfa": True}, format="json").status_code == 200
    refused = joiner_api.get(f"{ORGS}/{org_id}/members")
    assert (refused.status_code, error_of(refused)["code"]) == (403, "mfa_required")
    assert api.get(f"{ORGS}/{org_id}/domains").status_code == 200
