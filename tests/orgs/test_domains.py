"""Verified domains and joining by domain (docs/orgs.md, "Verified domains"): the DNS TXT proof
against a real DNS server on loopback UDP, takeover attempts, the operator's confirmation, the
`allow` and `auto` flows, and the validation of domain names."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project.events.models import OutboxEvent
from tests.orgs.conftest import make_org
from tests.support.factories import UserFactory
from tests.support.http import client_for, error_of
from users.core.org_domains import normalise_domain
from users.interface import user_service
from users.interface.orgs import InvalidOrgInput, org_service
from users.models import OrgDomain

pytestmark = pytest.mark.django_db

ORGS = "/api/v1/orgs"


def members_of(org) -> dict:
    return {m.user_id: m.role for m in org_service.list_members(actor_id=None, org_id=org.id, limit=200).results}


def claim(api, org, domain="acme.example"):
    response = api.post(f"{ORGS}/{org.id}/domains", {"domain": domain}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- DNS verification --------------------------------------------------------------------------


def test_the_right_txt_record_verifies_the_domain(acme, dns_server):
    org, people = acme
    api = client_for(people["owner"])
    claimed = claim(api, org, "Acme.Example.")

    assert (claimed["domain"], claimed["status"]) == ("acme.example", "pending")
    assert claimed["record"] == "_gatehouse-challenge.acme.example"
    listed = api.get(f"{ORGS}/{org.id}/domains").json()
    assert "token" not in listed[0] and claimed["token"] not in json.dumps(listed)  # shown once
    dns_server.txt["_gatehouse-challenge.acme.example"] = ["unrelated=1", claimed["token"]]

    verified = api.post(f"{ORGS}/{org.id}/domains/{claimed['id']}/verify")

    assert verified.status_code == 200, verified.content
    assert (verified.json()["status"], verified.json()["verified_by"]) == ("verified", "dns")
    assert "_gatehouse-challenge.acme.example" in dns_server.queries  # asked the real server
    assert OutboxEvent.objects.filter(type="orgs.domain_verified", payload__domain="acme.example").exists()


@pytest.mark.parametrize(
    ("record", "reason"), [(["not-the-token"], "mismatch"), (None, "missing")], ids=["wrong", "missing"]
)
def test_a_wrong_or_missing_record_does_not_verify(acme, dns_server, record, reason):
    org, people = acme
    api = client_for(people["owner"])
    claimed = claim(api, org)
    if record is not None:
        dns_server.txt["_gatehouse-challenge.acme.example"] = record

    response = api.post(f"{ORGS}/{org.id}/domains/{claimed['id']}/verify")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "domain_verification_failed"
    assert error["details"]["reason"] == reason
    assert error["details"]["record"] == "_gatehouse-challenge.acme.example"
    assert OrgDomain.objects.get(id=claimed["id"]).verified_at is None


def test_the_token_at_another_name_does_not_verify(acme, dns_server):
    org, people = acme
    api = client_for(people["owner"])
    claimed = claim(api, org)
    dns_server.txt["acme.example"] = [claimed["token"]]  # the apex, not the challenge name

    assert error_of(api.post(f"{ORGS}/{org.id}/domains/{claimed['id']}/verify"))["code"] == (
        "domain_verification_failed"
    )


# --- Takeover attempts ---------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["admin", "member"])
def test_only_owners_add_verify_and_remove_domains(acme, dns_server, caller):
    org, people = acme
    claimed = claim(client_for(people["owner"]), org)
    dns_server.txt["_gatehouse-challenge.acme.example"] = [claimed["token"]]
    api = client_for(people[caller])

    answers = [
        api.post(f"{ORGS}/{org.id}/domains", {"domain": "mine.example"}, format="json"),
        api.post(f"{ORGS}/{org.id}/domains/{claimed['id']}/verify"),
        api.delete(f"{ORGS}/{org.id}/domains/{claimed['id']}"),
        api.get(f"{ORGS}/{org.id}/domains"),
    ]

    assert [(r.status_code, error_of(r)["code"]) for r in answers] == [(403, "org_permission_denied")] * 4
    assert list(OrgDomain.objects.values_list("domain", "verified_at")) == [("acme.example", None)]


def test_another_org_cannot_claim_or_verify_a_domain_verified_elsewhere(acme, dns_server):
    org, people = acme
    rival_owner = UserFactory()
    rival = make_org(rival_owner, "rival")
    rival_api = client_for(rival_owner)
    # Both claim it while pending (a claim proves nothing), each with its own token in DNS.
    mine = claim(client_for(people["owner"]), org)
    theirs = claim(rival_api, rival)
    dns_server.txt["_gatehouse-challenge.acme.example"] = [mine["token"], theirs["token"]]
    assert client_for(people["owner"]).post(f"{ORGS}/{org.id}/domains/{mine['id']}/verify").status_code == 200

    verify = rival_api.post(f"{ORGS}/{rival.id}/domains/{theirs['id']}/verify")
    again = rival_api.post(f"{ORGS}/{rival.id}/domains", {"domain": "ACME.example"}, format="json")
    other_name = rival_api.post(f"{ORGS}/{rival.id}/domains", {"domain": "acme.example."}, format="json")

    for response in (verify, again, other_name):
        assert (response.status_code, error_of(response)["code"]) == (409, "domain_taken")
    assert OrgDomain.objects.get(id=theirs["id"]).verified_at is None
    with pytest.raises(Exception) as refused:
        org_service.confirm_domain(org_id=rival.id, domain="acme.example")  # not even an operator
    assert getattr(refused.value, "code", None) == "domain_taken"


def test_an_outsider_probing_another_orgs_domains_gets_404(acme, dns_server):
    org, people = acme
    claimed = claim(client_for(people["owner"]), org)
    outsider_owner = UserFactory()
    other = make_org(outsider_owner, "other")
    api = client_for(outsider_owner)
    before = list(OrgDomain.objects.values_list("id", "verified_at"))

    probes = [
        api.get(f"{ORGS}/{org.id}/domains"),
        api.post(f"{ORGS}/{org.id}/domains", {"domain": "x.example"}, format="json"),
        api.post(f"{ORGS}/{org.id}/domains/{claimed['id']}/verify"),
        api.delete(f"{ORGS}/{org.id}/domains/{claimed['id']}"),
    ]
    # And acme's domain id under the outsider's own org: not theirs.
    nested = [
        api.post(f"{ORGS}/{other.id}/domains/{claimed['id']}/verify"),
        api.delete(f"{ORGS}/{other.id}/domains/{claimed['id']}"),
    ]

    assert [(r.status_code, error_of(r)["code"]) for r in probes] == [(404, "org_not_found")] * 4
    assert [(r.status_code, error_of(r)["code"]) for r in nested] == [(404, "domain_not_found")] * 2
    assert list(OrgDomain.objects.values_list("id", "verified_at")) == before
    assert "acme.example" not in "".join(r.content.decode() for r in probes + nested)


def test_removing_a_domain_keeps_the_members_who_joined_by_it(acme):
    org, people = acme
    org_service.confirm_domain(org_id=org.id, domain="acme.example")
    org_service.update_org(actor_id=None, org_id=org.id, domain_join="allow")
    joiner = UserFactory(email="joiner@acme.example")
    assert client_for(joiner).post(f"{ORGS}/{org.id}/join").status_code == 200
    domain_id = OrgDomain.objects.get(org_id=org.id).id

    assert client_for(people["owner"]).delete(f"{ORGS}/{org.id}/domains/{domain_id}").status_code == 204

    assert members_of(org)[joiner.id] == "member"
    assert not OrgDomain.objects.filter(id=domain_id).exists()


# --- The operator ---------------------------------------------------------------------------------


def test_an_operator_marks_a_domain_verified_with_manage_py(acme):
    org, _ = acme
    out = io.StringIO()

    call_command("org", "verify-domain", "acme", "Acme.Example", stdout=out)

    shown = json.loads(out.getvalue())
    assert (shown["domain"], shown["verified_by"]) == ("acme.example", "operator")
    assert OrgDomain.objects.get(org_id=org.id, domain="acme.example").verified_at is not None


# --- Joining: allow ---------------------------------------------------------------------------------


@pytest.fixture
def allowing(acme):
    org, people = acme
    org_service.confirm_domain(org_id=org.id, domain="acme.example")
    org = org_service.update_org(actor_id=None, org_id=org.id, domain_join="allow")
    return org, people


def test_with_allow_a_verified_user_at_the_domain_sees_and_joins_the_org_as_member(allowing):
    org, _ = allowing
    joiner = UserFactory(email="Joiner@ACME.example")
    api = client_for(joiner)

    joinable = api.get(f"{ORGS}/joinable")
    assert [o["id"] for o in joinable.json()] == [str(org.id)]
    joined = api.post(f"{ORGS}/{org.id}/join")

    assert (joined.status_code, joined.json()["role"]) == (200, "member")
    assert members_of(org)[joiner.id] == "member"
    assert api.get(f"{ORGS}/joinable").json() == []  # a member now
    again = api.post(f"{ORGS}/{org.id}/join")
    assert (again.status_code, error_of(again)["code"]) == (409, "already_member")
    assert OutboxEvent.objects.filter(type="orgs.member_added", payload__user_id=str(joiner.id)).exists()


@pytest.mark.parametrize(
    "who",
    ["unverified", "other_domain", "subdomain", "lookalike"],
)
def test_with_allow_nobody_else_joins(allowing, who):
    org, _ = allowing
    user = {
        "unverified": lambda: UserFactory(email="late@acme.example", is_verified=False),
        "other_domain": lambda: UserFactory(email="someone@globex.example"),
        "subdomain": lambda: UserFactory(email="someone@eu.acme.example"),
        "lookalike": lambda: UserFactory(email="someone@notacme.example"),
    }[who]()
    api = client_for(user) if who != "unverified" else None
    if api is None:
        from rest_framework.test import APIClient

        from tests.support.http import bearer, tokens_of

        api = APIClient()
        api.credentials(**bearer(tokens_of(api, user.email)["access_token"]))
    before = members_of(org)

    assert api.get(f"{ORGS}/joinable").json() == []
    joined = api.post(f"{ORGS}/{org.id}/join")

    assert (joined.status_code, error_of(joined)["code"]) == (404, "org_not_found")
    assert members_of(org) == before


def test_with_off_or_an_unverified_domain_nobody_joins(acme):
    org, _ = acme
    org_service.add_domain(actor_id=None, org_id=org.id, domain="acme.example")  # pending
    org_service.update_org(actor_id=None, org_id=org.id, domain_join="allow")
    joiner = UserFactory(email="joiner@acme.example")

    assert client_for(joiner).post(f"{ORGS}/{org.id}/join").status_code == 404

    org_service.confirm_domain(org_id=org.id, domain="acme.example")
    org_service.update_org(actor_id=None, org_id=org.id, domain_join="off")
    assert client_for(joiner).post(f"{ORGS}/{org.id}/join").status_code == 404
    assert joiner.id not in members_of(org)


def test_domain_join_is_set_by_admins_and_validated(acme):
    org, people = acme
    url = f"{ORGS}/{org.id}"

    bad = client_for(people["admin"]).patch(url, {"domain_join": "everyone"}, format="json")
    by_member = client_for(people["member"]).patch(url, {"domain_join": "allow"}, format="json")
    ok = client_for(people["admin"]).patch(url, {"domain_join": "allow"}, format="json")

    assert (bad.status_code, error_of(bad)["code"]) == (400, "validation_error")
    assert (by_member.status_code, error_of(by_member)["code"]) == (403, "org_permission_denied")
    assert (ok.status_code, ok.json()["domain_join"]) == (200, "allow")


# --- Joining: auto ----------------------------------------------------------------------------------


def test_with_auto_a_user_joins_when_their_email_becomes_verified_and_stays_after_changing_it(acme):
    """update_user(is_verified=True) is what the auth service's verification link calls."""
    org, _ = acme
    org_service.confirm_domain(org_id=org.id, domain="acme.example")
    org_service.update_org(actor_id=None, org_id=org.id, domain_join="auto")
    newcomer = UserFactory(email="new@acme.example", is_verified=False)
    assert newcomer.id not in members_of(org)  # unverified emails never join

    user_service.update_user(user_id=newcomer.id, is_verified=True)  # the email-verified path

    assert members_of(org)[newcomer.id] == "member"
    # An email change to another domain does not take the membership away.
    user_service.update_user(user_id=newcomer.id, email="new@globex.example")  # pending until its link
    user_service.confirm_email_change(user_id=newcomer.id, email="new@globex.example")
    assert members_of(org)[newcomer.id] == "member"


def test_turning_auto_on_or_verifying_the_domain_joins_the_verified_users_already_there(acme, dns_server):
    org, people = acme
    early = UserFactory(email="early@acme.example")
    unverified = UserFactory(email="unverified@acme.example", is_verified=False)
    elsewhere = UserFactory(email="elsewhere@globex.example")
    owner_api = client_for(people["owner"])
    claimed = claim(owner_api, org)
    dns_server.txt["_gatehouse-challenge.acme.example"] = [claimed["token"]]

    # auto on while the domain is pending: nobody yet.
    turned = client_for(people["admin"]).patch(f"{ORGS}/{org.id}", {"domain_join": "auto"}, format="json")
    assert turned.status_code == 200
    assert early.id not in members_of(org)
    # Verifying the domain joins the verified users at it.
    assert owner_api.post(f"{ORGS}/{org.id}/domains/{claimed['id']}/verify").status_code == 200
    members = members_of(org)
    assert members[early.id] == "member"
    assert unverified.id not in members and elsewhere.id not in members

    # Off, a new verified user arrives, then auto again: they join.
    org_service.update_org(actor_id=None, org_id=org.id, domain_join="off")
    later = UserFactory(email="later@acme.example")
    assert later.id not in members_of(org)
    org_service.update_org(actor_id=None, org_id=org.id, domain_join="auto")
    assert members_of(org)[later.id] == "member"


# --- Domain names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  sub.example.org ", "sub.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_domain_names_are_stored_as_lower_case_a_labels(given, stored):
    assert normalise_domain(given) == stored


@pytest.mark.parametrize(
    "junk",
    [
        "",
        ".",
        "com",
        "example..com",
        "-a.example",
        "a-.example",
        "a b.example",
        "user@example.com",
        "https://example.com",
        "example.com:443",
        "*.example.com",
        "1.2.3.4",
        "a" * 64 + ".example",
        ".".join(["a" * 60] * 5),
        "example.com/path",
        "exa\x00mple.com",
    ],
)
def test_junk_is_a_clear_400(acme, junk):
    org, people = acme
    response = client_for(people["owner"]).post(f"{ORGS}/{org.id}/domains", {"domain": junk}, format="json")

    assert response.status_code == 400, (junk, response.content)
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"].get("domain")
    assert not OrgDomain.objects.exists()


LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(lambda s: s[2:4] != "--")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_any_text_is_a_normal_domain_or_invalid_input(text):
    try:
        name = normalise_domain(text)
    except InvalidOrgInput as exc:
        assert exc.details["domain"]
        return
    assert name == name.lower() and name.isascii() and not name.endswith(".")
    assert len(name.split(".")) >= 2 and len(name) <= 253
    assert normalise_domain(name) == name  # idempotent
    assert normalise_domain(name.upper() + ".") == name  # case and the trailing dot do not matter


@settings(max_examples=100, deadline=None)
@given(st.lists(LABEL, min_size=1, max_size=4), st.sampled_from(["com", "example", "org", "io"]), st.booleans())
def test_valid_ascii_names_survive_case_and_a_trailing_dot(labels, tld, dot):
    name = ".".join([*labels, tld])
    written = "".join(c.upper() if i % 2 else c for i, c in enumerate(name)) + ("." if dot else "")
    assert normalise_domain(written) == name


def test_two_orgs_verifying_at_once_cannot_both_win(acme, monkeypatch):
    """The window between the check and the write: with the check passed by both (as when two
    verifications interleave), the partial unique constraint on verified rows refuses the second."""
    from users.core import org_domains

    org, _ = acme
    rival = make_org(UserFactory(), "rival")
    org_service.add_domain(actor_id=None, org_id=org.id, domain="race.example")
    org_service.add_domain(actor_id=None, org_id=rival.id, domain="race.example")
    monkeypatch.setattr(org_domains, "_verified_elsewhere", lambda domain, org_id: False)

    org_service.confirm_domain(org_id=org.id, domain="race.example")
    with pytest.raises(Exception) as lost:
        org_service.confirm_domain(org_id=rival.id, domain="race.example")

    assert getattr(lost.value, "code", None) == "domain_taken"
    assert list(OrgDomain.objects.filter(verified_at__isnull=False).values_list("org_id", flat=True)) == [org.id]


def test_the_auto_sweep_finds_addresses_written_with_the_unicode_domain(acme):
    org, _ = acme
    written_unicode = UserFactory(email="ana@bücher.example")
    org_service.confirm_domain(org_id=org.id, domain="bücher.example")

    org_service.update_org(actor_id=None, org_id=org.id, domain_join="auto")

    assert members_of(org)[written_unicode.id] == "member"
    assert [o.id for o in org_service.list_joinable_orgs(user_id=written_unicode.id)] == []  # a member now


def test_a_global_administrator_still_sees_orgs_they_may_join(allowing):
    from permissions.interface import ADMIN_ROLE, permission_service

    org, _ = allowing
    boss = UserFactory(email="boss@acme.example")
    permission_service.grant_role(
        actor_id=None, role_id=permission_service.get_role_by_name(name=ADMIN_ROLE).id, user_id=boss.id
    )

    assert [o["id"] for o in client_for(boss).get(f"{ORGS}/joinable").json()] == [str(org.id)]
