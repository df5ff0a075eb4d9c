from __future__ import annotations

import pytest
from django.test import Client

from scim.tokens import token_create

SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """A SCIM client over Django's test client, with a token."""

    def __init__(self, secret: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}

    def _call(self, method, path, body=None, **headers):
        kwargs = {"data": body, "content_type": SCIM} if body is not None else {}
        return getattr(self.client, method)(f"/scim/v2/{path}", **kwargs, **self.headers, **headers)

    def get(self, path, **headers):
        return self._call("get", path, **headers)

    def post(self, path, body, **headers):
        return self._call("post", path, body, **headers)

    def put(self, path, body, **headers):
        return self._call("put", path, body, **headers)

    def patch(self, path, operations, **headers):
        return self._call("patch", path, {"schemas": [PATCH_SCHEMA], "Operations": operations}, **headers)

    def delete(self, path, **headers):
        return self._call("delete", path, **headers)


@pytest.fixture
def scim(db):
    _, secret = token_create(name="test IdP")
    return Scim(secret)


def new_user(scim, user_name="ada@example.com", **extra):
    response = scim.post("Users", {"schemas": [USER_SCHEMA], "userName": user_name, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def scim_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert str(body["status"]) == str(status)
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body
