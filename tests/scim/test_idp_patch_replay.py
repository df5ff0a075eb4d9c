"""The PATCH bodies Microsoft Entra ID and Okta send, written from the shapes their public SCIM
documentation shows (Entra: "Develop and plan provisioning for a SCIM endpoint" and its known
compliance issues; Okta: "SCIM 2.0 protocol reference"), replayed against Gatehouse."""

from __future__ import annotations

import uuid

import pytest

from permissions.interface import permission_service
from tests.scim.conftest import GROUP_SCHEMA, new_user
from users.interface import user_service

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def patched(scim, path, operations) -> dict:
    response = scim.patch(path, operations)
    assert response.status_code in (200, 204), response.content
    return scim.get(path).json()


@pytest.fixture
def ada(scim):
    return new_user(
        scim,
        "ada@example.com",
        externalId="e-ada",
        displayName="Ada",
        name={"givenName": "Ada", "familyName": "Byron"},
        emails=[{"value": "ada@example.com", "type": "work", "primary": True}],
    )


@pytest.fixture
def group(scim, ada):
    response = scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering"})
    assert response.status_code == 201, response.content
    return response.json()


# --- Microsoft Entra ID ------------------------------------------------------------------------


def test_entra_replaces_attributes_with_capitalised_ops_and_paths(scim, ada):
    body = patched(
        scim,
        f"Users/{ada['id']}",
        [
            {"op": "Replace", "path": "displayName", "value": "Ada Lovelace"},
            {"op": "Replace", "path": "name.familyName", "value": "Lovelace"},
            {"op": "Add", "path": "externalId", "value": "e-ada-2"},
        ],
    )
    assert (body["displayName"], body["name"]["familyName"], body["externalId"]) == (
        "Ada Lovelace",
        "Lovelace",
        "e-ada-2",
    )
    assert user_service.get_user(user_id=uuid.UUID(ada["id"])).display_name == "Ada Lovelace"


def test_entra_writes_a_filtered_email_path_adding_the_entry_it_lacks(scim, ada):
    body = patched(
        scim,
        f"Users/{ada['id']}",
        [
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada.work@example.com"},
            {"op": "Add", "path": 'emails[type eq "home"].value', "value": "ada@home.example"},
        ],
    )
    assert {(e["type"], e["value"]) for e in body["emails"]} == {
        ("work", "ada.work@example.com"),
        ("home", "ada@home.example"),
    }


def test_entra_sends_path_less_replace_with_attribute_paths_as_keys(scim, ada):
    body = patched(
        scim,
        f"Users/{ada['id']}",
        [{"op": "Replace", "value": {"displayName": "A. Lovelace", "name.givenName": "Augusta"}}],
    )
    assert (body["displayName"], body["name"]["givenName"]) == ("A. Lovelace", "Augusta")


def test_entra_sends_active_as_the_string_false(scim, ada):
    body = patched(scim, f"Users/{ada['id']}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert body["active"] is False
    assert not user_service.get_user(user_id=uuid.UUID(ada["id"])).is_active


def test_entra_writes_the_enterprise_extension(scim, ada):
    body = patched(
        scim,
        f"Users/{ada['id']}",
        [
            {"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "1815"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Analytical Engines"},
        ],
    )
    assert body[ENTERPRISE] == {"employeeNumber": "1815", "department": "Analytical Engines"}


def test_entra_adds_and_removes_members_by_value(scim, group, ada):
    grace = new_user(scim, "grace@example.com")
    path = f"Groups/{group['id']}"
    patched(scim, path, [{"op": "Add", "path": "members", "value": [{"value": ada["id"]}, {"value": grace["id"]}]}])
    patched(scim, path, [{"op": "Remove", "path": "members", "value": [{"value": ada["id"]}]}])
    assert permission_service.group_members(group_id=uuid.UUID(group["id"])) == [uuid.UUID(grace["id"])]


def test_entra_renames_a_group(scim, group):
    body = patched(scim, f"Groups/{group['id']}", [{"op": "Replace", "path": "displayName", "value": "Eng"}])
    assert body["displayName"] == "Eng"
    assert permission_service.get_group(group_id=uuid.UUID(group["id"])).name == "Eng"


# --- Okta --------------------------------------------------------------------------------------


def test_okta_deactivates_with_a_path_less_replace(scim, ada):
    body = patched(scim, f"Users/{ada['id']}", [{"op": "replace", "value": {"active": False}}])
    assert body["active"] is False
    assert not user_service.get_user(user_id=uuid.UUID(ada["id"])).is_active


def test_okta_renames_a_group_with_a_path_less_replace_naming_its_id(scim, group):
    body = patched(
        scim, f"Groups/{group['id']}", [{"op": "replace", "value": {"id": group["id"], "displayName": "Eng"}}]
    )
    assert body["displayName"] == "Eng"


def test_okta_adds_members_then_removes_one_by_filter(scim, group, ada):
    grace = new_user(scim, "grace@example.com")
    path = f"Groups/{group['id']}"
    patched(
        scim,
        path,
        [
            {
                "op": "add",
                "path": "members",
                "value": [{"value": ada["id"], "display": "ada@example.com"}, {"value": grace["id"]}],
            }
        ],
    )
    body = patched(scim, path, [{"op": "remove", "path": f'members[value eq "{grace["id"]}"]'}])
    assert [(m["value"], m.get("display")) for m in body["members"]] == [(ada["id"], "ada@example.com")]
    assert permission_service.group_members(group_id=uuid.UUID(group["id"])) == [uuid.UUID(ada["id"])]


def test_attribute_names_are_case_insensitive(scim, ada):
    body = patched(
        scim,
        f"Users/{ada['id']}",
        [
            {"op": "Replace", "path": "name.GivenName", "value": "Augusta"},
            {"op": "Replace", "value": {"DisplayName": "A. A. Lovelace", "Active": "False"}},
        ],
    )
    assert (body["name"]["givenName"], body["displayName"], body["active"]) == ("Augusta", "A. A. Lovelace", False)
    user = user_service.get_user(user_id=uuid.UUID(ada["id"]))
    assert (user.display_name, user.is_active) == ("A. A. Lovelace", False)
