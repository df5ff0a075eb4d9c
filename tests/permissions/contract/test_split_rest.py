"""Split mode: the RBAC app service (its REST views and their permission checks) in this process,
the permissions core service behind gRPC. The API behaves as it does in one process."""

from __future__ import annotations

import pytest

from permissions.interface import ADMIN_ROLE, SERVICE_NAME, PermissionService, permission_service
from permissions.local import LocalPermissionService
from permissions.rpc.client import GrpcPermissionService
from project.kernel.delegation import provide, provided
from tests.support.factories import UserFactory
from tests.support.http import client_for

pytestmark = pytest.mark.urls("tests.permissions.urls")

RBAC = "/api/v1/rbac"


@pytest.fixture
def remote_permissions(transactional_db, codes, permissions_grpc_server):
    """`permission_service` is the gRPC client for the test, as PERMISSIONS_GRPC_TARGET makes it."""
    installed = provided(SERVICE_NAME)
    provide(SERVICE_NAME, GrpcPermissionService(target=permissions_grpc_server.target), interface=PermissionService)
    yield
    provide(SERVICE_NAME, installed, interface=PermissionService)


def account(email: str):
    """A new user's signed-in client, and the user's id."""
    user = UserFactory(email=email)
    return client_for(user), user.id


def test_the_rbac_api_works_the_same_with_the_core_service_behind_grpc(remote_permissions):
    assert isinstance(provided(SERVICE_NAME), GrpcPermissionService)
    admin, admin_id = account("root@example.com")
    client, ada_id = account("ada@example.com")
    assert client.get(f"{RBAC}/roles").status_code == 403
    permission_service.grant_role(
        actor_id=None, role_id=permission_service.get_role_by_name(name=ADMIN_ROLE).id, user_id=admin_id
    )

    role = admin.post(f"{RBAC}/roles", {"name": "reader", "permissions": ["users.user.view"]}, format="json")
    assert role.status_code == 201, role.content
    cycle = admin.patch(f"{RBAC}/roles/{role.json()['id']}", {"parents": [role.json()["id"]]}, format="json")
    assert (cycle.status_code, cycle.json()["error"]["code"]) == (409, "role_cycle")
    granted = admin.post(
        f"{RBAC}/assignments", {"role": "reader", "user_id": str(ada_id), "scope": "org:acme"}, format="json"
    )
    assert granted.status_code == 201, granted.content
    assert granted.json()["granted_by"] == str(admin_id)

    check = {"permission": "users.user.view", "scope": "org:acme/p:1"}
    assert client.post(f"{RBAC}/check", check, format="json").json() == {"allowed": True}
    escalation = client.post(f"{RBAC}/roles", {"name": "mine"}, format="json")
    assert escalation.status_code == 403
    page = admin.get(f"{RBAC}/assignments", {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["next"]
    bad = admin.get(f"{RBAC}/assignments", {"cursor": "%%%"})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]["details"]

    assert admin.delete(f"{RBAC}/assignments/{granted.json()['id']}").status_code == 204
    assert client.post(f"{RBAC}/check", check, format="json").json() == {"allowed": False}
    assert LocalPermissionService().check(user_id=ada_id, permission="users.user.view", scope="org:acme") is False
