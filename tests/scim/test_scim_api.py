"""/scim/v2/ through the real HTTP path (docs/scim.md): discovery, Users and Groups, every operation
and the error forms. Users are Gatehouse users (users service), groups are RBAC groups."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from auth.interface import auth_service
from permissions.handlers import CONSUMER as PERMISSIONS_CONSUMER
from permissions.interface import permission_service
from project.events.consumers import process
from project.events.models import OutboxEvent
from project.events.outbox import envelope_of
from scim.models import ScimToken, ScimUser
from scim.tokens import token_create, token_revoke
from tests.scim.conftest import GROUP_SCHEMA, USER_SCHEMA, Scim, new_user, scim_error
from users.interface import USER_DEACTIVATED, USER_REACTIVATED, UserNotFound, user_service

pytestmark = pytest.mark.django_db


def search(scim, expression: str, **params):
    query = "&".join([f"filter={quote(expression)}", *(f"{k}={v}" for k, v in params.items())])
    response = scim.get(f"Users?{query}")
    assert response.status_code == 200, response.content
    return response.json()


# --- Discovery and tokens ----------------------------------------------------------------------


def test_service_provider_config_announces_what_is_served(db):
    config = Scim(None).get("ServiceProviderConfig").json()  # no token needed (RFC 7644 §4)
    assert config["patch"]["supported"] and config["filter"]["supported"] and config["etag"]["supported"]
    assert config["filter"]["maxResults"] == 200
    assert not config["bulk"]["supported"] and not config["sort"]["supported"]
    assert not config["changePassword"]["supported"]
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_and_schemas_are_users_and_groups(scim):
    types = {t["name"]: t for t in scim.get("ResourceTypes").json()["Resources"]}
    assert set(types) == {"User", "Group"}
    assert types["User"]["endpoint"] == "/Users"
    schemas = {s["id"] for s in scim.get("Schemas").json()["Resources"]}
    assert {USER_SCHEMA, GROUP_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"} <= schemas


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz"])
def test_without_a_valid_token_it_is_401_in_scim_form(db, header):
    client = Scim(None)
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    scim_error(client.get("Users", **extra), 401)
    scim_error(client.post("Users", {"schemas": [USER_SCHEMA], "userName": "x@example.com"}, **extra), 401)
    with pytest.raises(UserNotFound):
        user_service.get_user_by_email(email="x@example.com")


def test_a_revoked_token_stops_at_once(db):
    token, secret = token_create(name="Okta")
    client = Scim(secret)
    assert client.get("Users").status_code == 200
    token_revoke(token=token)
    scim_error(client.get("Users"), 401)


def test_tokens_are_stored_as_digests_only(db):
    token, secret = token_create(name="Entra")
    stored = ScimToken.objects.get(pk=token.pk)
    assert secret not in (stored.digest, stored.prefix) and secret.startswith(stored.prefix)
    assert len(secret) > 40 and stored.last_used_at is None
    Scim(secret).get("Users")
    assert ScimToken.objects.get(pk=token.pk).last_used_at is not None


def test_a_token_over_its_rate_gets_429_with_retry_after(db, settings):
    settings.GATEHOUSE_RATELIMIT_SCIM = "2/min"
    _, secret = token_create(name="busy IdP")
    client = Scim(secret)
    assert [client.get("Users").status_code for _ in range(2)] == [200, 200]
    response = client.get("Users")
    scim_error(response, 429)
    assert int(response["Retry-After"]) >= 1
    _, other = token_create(name="another IdP")
    assert Scim(other).get("Users").status_code == 200  # per token


# --- Users -------------------------------------------------------------------------------------


def test_a_user_is_created_as_a_gatehouse_user(scim):
    body = new_user(
        scim,
        "Ada@Example.com",
        externalId="okta-1",
        displayName="Ada Lovelace",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"value": "ada@example.com", "type": "work", "primary": True}],
    )
    user = user_service.get_user(user_id=uuid.UUID(body["id"]))
    assert (user.email, user.display_name, user.is_active, user.is_verified) == (
        "ada@example.com",
        "Ada Lovelace",
        True,
        True,
    )
    assert body["userName"] == "ada@example.com" and body["externalId"] == "okta-1"
    assert body["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert body["meta"]["resourceType"] == "User" and body["meta"]["version"].startswith('W/"')
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    assert scim.get(f"Users/{body['id']}").json() == body


def test_a_taken_user_name_is_409_uniqueness_and_changes_nothing(scim):
    new_user(scim, "ada@example.com")
    scim_error(scim.post("Users", {"schemas": [USER_SCHEMA], "userName": "ADA@example.com"}), 409, "uniqueness")
    assert ScimUser.objects.count() == 1


@pytest.mark.parametrize("body", [{"userName": "not an email"}, {"userName": ""}, {}])
def test_a_bad_user_is_400_and_creates_nothing(scim, body):
    response = scim.post("Users", {"schemas": [USER_SCHEMA], **body})
    scim_error(response, 400)
    assert ScimUser.objects.count() == 0 and user_service.list_users().results == ()


def test_a_body_that_is_not_json_is_400(scim):
    response = scim.client.post("/scim/v2/Users", "{nope", content_type="application/scim+json", **scim.headers)
    scim_error(response, 400)


@pytest.mark.parametrize(
    "path",
    ["Users/" + str(uuid.uuid4()), "Users/not-a-uuid", "Groups/" + str(uuid.uuid4())],
    ids=["unknown-user", "user-not-a-uuid", "unknown-group"],
)
def test_an_unknown_resource_is_404(scim, path):
    scim_error(scim.get(path), 404)
    scim_error(scim.delete(path), 404)


def test_filters_on_the_attributes_identity_providers_use(scim):
    ada = new_user(scim, "ada@example.com", externalId="e-ada", displayName="Ada Lovelace")
    grace = new_user(scim, "grace@navy.example", externalId="e-grace", displayName="Grace Hopper")
    user_service.create_user(email="alan@example.com", display_name="Alan")  # made outside SCIM: seen too

    def ids(expression):
        return {r["userName"] for r in search(scim, expression)["Resources"]}

    assert ids('userName eq "ADA@example.com"') == {"ada@example.com"}
    assert ids('externalId eq "e-grace"') == {"grace@navy.example"}
    assert ids('externalId eq "E-GRACE"') == set()  # externalId is case-exact
    assert ids('displayName eq "Grace Hopper"') == {"grace@navy.example"}
    assert ids('userName co "example.com"') == {"ada@example.com", "alan@example.com"}
    assert ids('userName sw "gr"') == {"grace@navy.example"}
    assert ids('emails.value eq "grace@navy.example"') == set()  # Grace's IdP sent no emails
    assert ids('userName sw "a" and displayName co "Love"') == {"ada@example.com"}
    assert ids('externalId eq "e-ada" or externalId eq "e-grace"') == {"ada@example.com", "grace@navy.example"}
    assert ids('userName eq "nobody@example.com"') == set()
    assert {ada["id"], grace["id"]} <= {r["id"] for r in scim.get("Users").json()["Resources"]}


def test_an_invalid_filter_is_400_invalid_filter(scim):
    response = scim.get("Users?filter=" + quote('userName xx "a"'))
    scim_error(response, 400, "invalidFilter")


def test_pagination_by_start_index_and_count(scim):
    for n in range(5):
        new_user(scim, f"u{n}@example.com")
    first = search(scim, 'userName sw "u"', startIndex=1, count=2)
    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (5, 1, 2)
    rest = search(scim, 'userName sw "u"', startIndex=3, count=10)
    assert (rest["totalResults"], rest["itemsPerPage"]) == (5, 3)
    seen = [r["userName"] for r in first["Resources"] + rest["Resources"]]
    assert sorted(seen) == [f"u{n}@example.com" for n in range(5)]
    assert search(scim, 'userName sw "u"', count=0)["totalResults"] == 5


def test_put_replaces_the_user(scim):
    ada = new_user(scim, "ada@example.com", displayName="Ada", title="Countess", externalId="e1")
    response = scim.put(
        f"Users/{ada['id']}",
        {"schemas": [USER_SCHEMA], "userName": "ada.lovelace@example.com", "displayName": "Ada L.", "externalId": "e2"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["userName"], body["displayName"], body["externalId"]) == ("ada.lovelace@example.com", "Ada L.", "e2")
    assert "title" not in body
    user = user_service.get_user(user_id=uuid.UUID(ada["id"]))
    assert (user.email, user.display_name, user.pending_email) == ("ada.lovelace@example.com", "Ada L.", "")
    assert body["meta"]["version"] != ada["meta"]["version"]


def test_etags_make_writes_conditional(scim):
    ada = new_user(scim, "ada@example.com", displayName="Ada")
    version = ada["meta"]["version"]
    got = scim.get(f"Users/{ada['id']}")
    assert got["ETag"] == version
    assert scim.get(f"Users/{ada['id']}", HTTP_IF_NONE_MATCH=version).status_code == 304
    patched = scim.patch(
        f"Users/{ada['id']}", [{"op": "replace", "path": "displayName", "value": "Ada L."}], HTTP_IF_MATCH=version
    )
    assert patched.status_code in (200, 204), patched.content
    stale = scim.patch(
        f"Users/{ada['id']}", [{"op": "replace", "path": "displayName", "value": "Ada X"}], HTTP_IF_MATCH=version
    )
    scim_error(stale, 412)
    scim_error(scim.delete(f"Users/{ada['id']}", HTTP_IF_MATCH=version), 412)
    assert user_service.get_user(user_id=uuid.UUID(ada["id"])).display_name == "Ada L."


PASSWORD = "a-Long-unguessable-passphrase-42"


def signed_in(email: str) -> tuple[APIClient, uuid.UUID]:
    """A user with a password, signed in through the API: a client carrying their access token."""
    user = user_service.create_user(email=email, password=PASSWORD, is_verified=True)
    api = APIClient()
    tokens = api.post("/api/v1/auth/token", {"email": email, "password": PASSWORD}, format="json").json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert api.get("/api/v1/users/me").status_code == 200
    return api, user.id


@pytest.mark.parametrize(
    "deprovision",
    [
        lambda scim, user_id: scim.patch(f"Users/{user_id}", [{"op": "replace", "path": "active", "value": False}]),
        lambda scim, user_id: scim.patch(f"Users/{user_id}", [{"op": "Replace", "value": {"active": "False"}}]),
        lambda scim, user_id: scim.delete(f"Users/{user_id}"),
    ],
    ids=["patch-active-false", "entra-pathless-string-false", "delete"],
)
def test_deprovisioning_stops_a_signed_in_users_next_request(scim, deprovision):
    api, user_id = signed_in("ada@example.com")
    response = deprovision(scim, user_id)
    assert response.status_code in (200, 204), response.content
    assert api.get("/api/v1/users/me").status_code == 401
    assert not user_service.get_user(user_id=user_id).is_active
    assert auth_service.list_sessions(user_id=user_id) == []


def consume(event_type: str, user_id: uuid.UUID) -> None:
    """Hand the permissions service's consumer the event the users service recorded (its relay and
    worker do it in a running deployment; here, in either test mode, the test does)."""
    row = OutboxEvent.objects.filter(type=event_type, payload__user_id=str(user_id)).latest("occurred_at")
    process(PERMISSIONS_CONSUMER, envelope_of(row))


def test_active_true_reactivates_a_deactivated_user_but_restores_no_session(scim):
    """Reactivation (docs/scim.md): the account signs in again and its kept assignments hold
    again (users.user_reactivated); the sessions deactivation revoked stay revoked."""
    api, user_id = signed_in("ada@example.com")
    role = permission_service.create_role(actor_id=None, name="reader", permissions=["users.user.view"])
    permission_service.grant_role(actor_id=None, role_id=role.id, user_id=user_id)
    response = scim.patch(f"Users/{user_id}", [{"op": "replace", "path": "active", "value": False}])
    assert response.status_code in (200, 204)
    consume(USER_DEACTIVATED, user_id)
    assert not permission_service.check(user_id=user_id, permission="users.user.view")

    response = scim.patch(f"Users/{user_id}", [{"op": "replace", "path": "active", "value": True}])
    assert response.status_code in (200, 204), response.content
    consume(USER_REACTIVATED, user_id)
    assert user_service.get_user(user_id=user_id).is_active
    assert permission_service.check(user_id=user_id, permission="users.user.view")
    assert api.get("/api/v1/users/me").status_code == 401  # the old session is not restored
    fresh = APIClient().post("/api/v1/auth/token", {"email": "ada@example.com", "password": PASSWORD}, format="json")
    assert fresh.status_code == 200


def test_put_with_active_true_reactivates_too(scim):
    ada = new_user(scim, "ada@example.com", active=False)
    response = scim.put(f"Users/{ada['id']}", {"schemas": [USER_SCHEMA], "userName": "ada@example.com", "active": True})
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True
    assert user_service.get_user(user_id=uuid.UUID(ada["id"])).is_active


def test_delete_deactivates_and_the_user_is_gone_for_scim(scim):
    ada = new_user(scim, "ada@example.com")
    assert scim.delete(f"Users/{ada['id']}").status_code == 204
    assert not user_service.get_user(user_id=uuid.UUID(ada["id"])).is_active  # never erased
    scim_error(scim.get(f"Users/{ada['id']}"), 404)
    assert search(scim, 'userName eq "ada@example.com"')["totalResults"] == 0
    scim_error(scim.delete(f"Users/{ada['id']}"), 404)


# --- Groups ------------------------------------------------------------------------------------


def test_a_group_is_an_rbac_group_with_members_by_user_id(scim):
    ada, grace = new_user(scim, "ada@example.com"), new_user(scim, "grace@example.com")
    response = scim.post(
        "Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Engineering",
            "externalId": "g1",
            "members": [{"value": ada["id"]}],
        },
    )
    assert response.status_code == 201, response.content
    group = response.json()
    group_id = uuid.UUID(group["id"])
    assert permission_service.get_group(group_id=group_id).name == "Engineering"
    assert permission_service.group_members(group_id=group_id) == [uuid.UUID(ada["id"])]
    assert [m["value"] for m in group["members"]] == [ada["id"]]

    ops = [
        {"op": "add", "path": "members", "value": [{"value": grace["id"]}]},
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "replace", "path": "displayName", "value": "Eng"},
    ]
    assert scim.patch(f"Groups/{group['id']}", ops).status_code in (200, 204)
    assert permission_service.group_members(group_id=group_id) == [uuid.UUID(grace["id"])]
    assert permission_service.get_group(group_id=group_id).name == "Eng"
    found = scim.get("Groups?filter=" + quote('displayName eq "Eng"')).json()
    assert [g["id"] for g in found["Resources"]] == [group["id"]]

    assert scim.delete(f"Groups/{group['id']}").status_code == 204
    assert group_id not in {g.id for g in permission_service.list_groups()}


@pytest.mark.parametrize("member", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown", "not-a-uuid"])
def test_a_group_with_an_unknown_member_is_400_and_not_created(scim, member):
    response = scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": member}]})
    scim_error(response, 400, "invalidValue")
    assert permission_service.list_groups() == []


def test_a_deactivated_user_cannot_join_a_group(scim):
    ada = new_user(scim, "ada@example.com", active=False)
    response = scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": ada["id"]}]})
    scim_error(response, 400, "invalidValue")


def test_a_taken_group_name_is_409(scim):
    assert scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Eng"}).status_code == 201
    scim_error(scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Eng"}), 409, "uniqueness")
    assert len(permission_service.list_groups()) == 1
