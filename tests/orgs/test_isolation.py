"""The IDOR matrix of the org routes (docs/orgs.md): every org route x two orgs x five callers (an outsider, a
member, the admin of the other org, the org's admin, its owner). Each case asserts the status and,
when the caller is refused, that nothing changed anywhere: the orgs, their members and their RBAC
grants, their invitations, and the events. Someone outside an org gets 404 from every route,
lists included; nested ids (a member, an invitation, a grant) of another org are 404 too."""

from __future__ import annotations

import pytest

from notifications.models import Delivery
from permissions.models import Assignment
from project.events.models import OutboxEvent
from tests.support.http import client_for
from users.models import Invitation, Organization, OrgDomain

pytestmark = pytest.mark.django_db

CALLERS = ("outsider", "other_admin", "member", "admin", "owner")


def caller_of(world, target: str, caller: str):
    other = "globex" if target == "acme" else "acme"
    if caller == "outsider":
        return world["outsider"]
    if caller == "other_admin":
        return world["orgs"][other]["admin"]
    return world["orgs"][target][caller]


def snapshot() -> dict:
    return {
        "orgs": sorted(Organization.objects.values_list("id", "name", "slug", "require_mfa")),
        "grants": sorted(
            (str(a.id), str(a.role_id), str(a.user_id), a.scope, a.created_at.isoformat())
            for a in Assignment.objects.filter(scope__startswith="org:")
        ),
        "invitations": sorted(
            Invitation.objects.values_list("id", "token_hash", "sent_count", "expires_at", "revoked_at", "accepted_at")
        ),
        "domains": sorted(OrgDomain.objects.values_list("id", "org_id", "domain", "token_hash", "verified_at")),
        "org_settings": sorted(Organization.objects.values_list("id", "domain_join")),
        "events": OutboxEvent.objects.filter(type__startswith="orgs.").count(),
        "notifications": sorted(
            Delivery.objects.filter(notification__type="announcement").values_list("notification_id", "user_id")
        ),
    }


# (operation, method, path, body, status per caller in CALLERS order); `{org}`, `{target}` (a
# member), `{grant}` (their custom role) and `{invitation}` are the target org's.
ROUTES = [
    ("get_org", "get", "/api/v1/orgs/{org}", None, (404, 404, 200, 200, 200)),
    ("update_org", "patch", "/api/v1/orgs/{org}", {"name": "Taken over"}, (404, 404, 403, 200, 200)),
    ("delete_org", "delete", "/api/v1/orgs/{org}", None, (404, 404, 403, 403, 204)),
    ("list_members", "get", "/api/v1/orgs/{org}/members", None, (404, 404, 200, 200, 200)),
    (
        "update_member",
        "patch",
        "/api/v1/orgs/{org}/members/{target}",
        {"role": "admin"},
        (404, 404, 403, 200, 200),
    ),
    ("remove_member", "delete", "/api/v1/orgs/{org}/members/{target}", None, (404, 404, 403, 204, 204)),
    ("list_member_roles", "get", "/api/v1/orgs/{org}/members/{target}/roles", None, (404, 404, 200, 200, 200)),
    (
        "grant_member_role",
        "post",
        "/api/v1/orgs/{org}/members/{target}/roles",
        {"role_id": "{helper}"},
        (404, 404, 403, 201, 201),
    ),
    (
        "revoke_member_role",
        "delete",
        "/api/v1/orgs/{org}/members/{target}/roles/{grant}",
        None,
        (404, 404, 403, 204, 204),
    ),
    ("list_invitations", "get", "/api/v1/orgs/{org}/invitations", None, (404, 404, 403, 200, 200)),
    (
        "create_invitation",
        "post",
        "/api/v1/orgs/{org}/invitations",
        {"email": "new@example.com", "role": "member"},
        (404, 404, 403, 201, 201),
    ),
    (
        "revoke_invitation",
        "delete",
        "/api/v1/orgs/{org}/invitations/{invitation}",
        None,
        (404, 404, 403, 204, 204),
    ),
    (
        "resend_invitation",
        "post",
        "/api/v1/orgs/{org}/invitations/{invitation}/resend",
        None,
        (404, 404, 403, 200, 200),
    ),
    (
        "notify_org_members",
        "post",
        "/api/v1/orgs/{org}/notifications",
        {"type": "announcement", "context": {"subject": "Hi", "body": "All"}, "channels": ["in_app"]},
        (404, 404, 403, 202, 202),
    ),
    # Verified domains: owners only. The owner's verify asks the loopback DNS server, which has no
    # record: 409, nothing changed.
    ("list_domains", "get", "/api/v1/orgs/{org}/domains", None, (404, 404, 403, 403, 200)),
    ("add_domain", "post", "/api/v1/orgs/{org}/domains", {"domain": "new.example"}, (404, 404, 403, 403, 201)),
    ("delete_domain", "delete", "/api/v1/orgs/{org}/domains/{domain}", None, (404, 404, 403, 403, 204)),
    ("verify_domain", "post", "/api/v1/orgs/{org}/domains/{domain}/verify", None, (404, 404, 403, 403, 409)),
    # Joining by domain: the org does not let anyone join (domain_join off): 404 for everyone.
    ("join_org", "post", "/api/v1/orgs/{org}/join", None, (404, 404, 404, 404, 404)),
]


def _fill(text: str, world, target: str) -> str:
    org = world["orgs"][target]
    return (
        text.replace("{org}", str(org["org"].id))
        .replace("{target}", str(org["target"].id))
        .replace("{grant}", str(org["grant"].id))
        .replace("{invitation}", str(org["invitation"].id))
        .replace("{domain}", str(org["domain"].id))
        .replace("{helper}", str(world["helper"].id))
    )


def _body(body, world, target):
    return None if body is None else {k: _fill(v, world, target) if isinstance(v, str) else v for k, v in body.items()}


@pytest.mark.parametrize("target", ["acme", "globex"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=[r[0] for r in ROUTES])
def test_every_org_route_answers_each_caller_as_their_role_allows(world, dns_server, route, caller, target):
    name, method, path, body, expected = route
    api = client_for(caller_of(world, target, caller))
    before = snapshot()

    response = getattr(api, method)(_fill(path, world, target), _body(body, world, target), format="json")

    want = expected[CALLERS.index(caller)]
    assert response.status_code == want, (name, caller, response.content)
    if want >= 400:
        assert response.json()["error"]["code"]  # the contract's envelope
        assert snapshot() == before, f"{name} by {caller} changed something"
    if want == 404:
        # Nothing of the org leaks: not its name, slug, or members.
        org = world["orgs"][target]
        text = response.content.decode()
        assert org["org"].slug not in text and org["member"].email not in text


@pytest.mark.parametrize("caller", ["outsider", "other_admin"])
def test_my_orgs_lists_nothing_of_an_org_one_is_not_in(world, caller):
    api = client_for(caller_of(world, "acme", caller))

    listed = {o["id"] for o in api.get("/api/v1/orgs").json()["results"]}

    assert str(world["orgs"]["acme"]["org"].id) not in listed
    assert listed == ({str(world["orgs"]["globex"]["org"].id)} if caller == "other_admin" else set())


def test_nested_ids_of_another_org_are_404_even_for_the_owner_of_the_org_in_the_path(world):
    acme, globex = world["orgs"]["acme"], world["orgs"]["globex"]
    api = client_for(globex["owner"])
    base = f"/api/v1/orgs/{globex['org'].id}"
    before = snapshot()

    answers = [
        api.patch(f"{base}/members/{acme['target'].id}", {"role": "admin"}, format="json"),
        api.delete(f"{base}/members/{acme['target'].id}"),
        api.get(f"{base}/members/{acme['target'].id}/roles"),
        api.delete(f"{base}/members/{globex['target'].id}/roles/{acme['grant'].id}"),
        api.delete(f"{base}/invitations/{acme['invitation'].id}"),
        api.post(f"{base}/invitations/{acme['invitation'].id}/resend"),
        api.delete(f"{base}/domains/{acme['domain'].id}"),
        api.post(f"{base}/domains/{acme['domain'].id}/verify"),
    ]

    assert [r.status_code for r in answers] == [404] * len(answers)
    assert snapshot() == before


def test_an_unknown_org_id_is_the_same_404_as_someone_elses_org(world):
    import uuid

    api = client_for(world["outsider"])
    unknown = api.get(f"/api/v1/orgs/{uuid.uuid4()}")
    hidden = api.get(f"/api/v1/orgs/{world['orgs']['acme']['org'].id}")

    assert unknown.status_code == hidden.status_code == 404
    assert unknown.json()["error"]["code"] == hidden.json()["error"]["code"] == "org_not_found"
