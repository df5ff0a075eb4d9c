"""What only the gRPC side has: the service on the wire, its health and reflection, requests that a
Python caller of GrpcPermissionService cannot make (other languages can), and the configuration
that installs the client."""

from __future__ import annotations

import subprocess
import uuid

import grpc
import pytest
from django.conf import settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from permissions.interface import PermissionService
from permissions.rpc.client import GrpcPermissionService
from project.kernel.delegation import check_implements
from protos.gatehouse.permissions.v1 import permissions_pb2 as pb
from protos.gatehouse.permissions.v1 import permissions_pb2_grpc
from tests.support.processes import ROOT, manage, subprocess_env
from tests.support.rbac import new_user

SERVICE = "gatehouse.permissions.v1.PermissionService"


@pytest.fixture
def channel(permissions_grpc_server):
    with grpc.insecure_channel(permissions_grpc_server.target) as channel:
        yield channel


@pytest.fixture
def credential():
    return (("authorization", f"Bearer {settings.GATEHOUSE_GRPC_TOKEN}"), ("x-gatehouse-caller", "tests@wire"))


def test_the_client_implements_the_interface():
    check_implements(PermissionService, GrpcPermissionService(target="127.0.0.1:1"))


def test_every_rpc_of_the_proto_is_a_method_of_the_interface_with_matching_fields():
    from project.rpc.codec import _methods

    rpcs = set(pb.DESCRIPTOR.services_by_name["PermissionService"].methods_by_name)
    # _methods raises ContractMismatch on any RPC without a method, or fields that do not fit.
    assert {method.rpc for method in _methods(PermissionService, pb, "PermissionService")} == rpcs


def test_the_server_reports_the_permissions_service_serving(channel):
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_permissions_service(channel, credential):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [reply] = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5, metadata=credential
    )
    assert SERVICE in [service.name for service in reply.list_services_response.service]


def test_a_call_without_the_service_credential_is_unauthenticated(channel):
    with pytest.raises(grpc.RpcError) as caught:
        permissions_pb2_grpc.PermissionServiceStub(channel).Check(
            pb.CheckRequest(user_id=str(uuid.uuid4()), permission="rbac.role.view"), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    "method, request_",
    [
        ("Check", pb.CheckRequest(user_id="not-a-uuid", permission="rbac.role.view")),
        ("CheckMany", pb.CheckManyRequest(user_id="")),
        ("GetRole", pb.GetRoleRequest(role_id="42")),
        ("UpdateRole", pb.UpdateRoleRequest(role_id=str(uuid.uuid4()), parents=pb.StringList(values=["x"]))),
        ("GrantRole", pb.GrantRoleRequest(actor_id="me", role_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()))),
        ("ListAssignments", pb.ListAssignmentsRequest(group_id="staff")),
        ("AddGroupMember", pb.AddGroupMemberRequest(group_id=str(uuid.uuid4()), user_id="ada")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_malformed_id_is_an_invalid_argument(channel, credential, transactional_db, method, request_):
    with pytest.raises(grpc.RpcError) as caught:
        getattr(permissions_pb2_grpc.PermissionServiceStub(channel), method)(request_, timeout=5, metadata=credential)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_escalation_is_permission_denied_on_the_wire(channel, credential, transactional_db):
    with pytest.raises(grpc.RpcError) as caught:
        permissions_pb2_grpc.PermissionServiceStub(channel).CreateRole(
            pb.CreateRoleRequest(
                actor_id=str(uuid.uuid4()), name="mine", permissions=pb.StringList(values=["rbac.role.manage"])
            ),
            timeout=5,
            metadata=credential,
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_grant_or_membership_for_an_unknown_user_is_not_found_user_not_found_on_the_wire(
    channel, credential, transactional_db
):
    """Issue 16 item 3: NOT_FOUND, and the error's code in the trailers, for a caller in any language."""
    import json

    from permissions.core import services
    from permissions.models import Assignment

    reader = services.create_role(actor_id=None, name="reader", permissions=["rbac.role.view"])
    staff = services.create_group(actor_id=None, name="staff")
    stub = permissions_pb2_grpc.PermissionServiceStub(channel)
    for user_id in (uuid.uuid4(), new_user(active=False)):
        calls = [
            (stub.GrantRole, pb.GrantRoleRequest(role_id=str(reader.id), user_id=str(user_id))),
            (stub.AddGroupMember, pb.AddGroupMemberRequest(group_id=str(staff.id), user_id=str(user_id))),
        ]
        for rpc, request in calls:
            with pytest.raises(grpc.RpcError) as caught:
                rpc(request, timeout=5, metadata=credential)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            [error] = [json.loads(v) for k, v in caught.value.trailing_metadata() if k == "gatehouse-error-bin"]
            assert error["code"] == "user_not_found"
    assert not Assignment.objects.exists() and not staff.memberships.exists()


def test_with_permissions_grpc_target_set_the_permission_service_is_the_grpc_client(
    permissions_grpc_server, transactional_db
):
    service = GrpcPermissionService(target=permissions_grpc_server.target)  # set up where it is asked (conftest)
    reader = service.create_role(actor_id=None, name="reader", permissions=["rbac.role.view"])
    user = new_user()
    service.grant_role(actor_id=None, role_id=reader.id, user_id=user)
    script = (
        "import uuid; from permissions.interface import permission_service as p; "
        "print(type(p.check.__self__).__name__); "
        f"print(p.check(user_id=uuid.UUID('{user}'), permission='rbac.role.view'))"
    )
    result = subprocess.run(
        manage("shell", "--verbosity", "0", "-c", script),
        cwd=ROOT,
        env=subprocess_env(PERMISSIONS_GRPC_TARGET=permissions_grpc_server.target),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["GrpcPermissionService", "True"]


def test_a_write_with_no_user_actor_is_audited_as_the_named_calling_service(channel, credential, transactional_db):
    """Issue 15 item 16: a gRPC write that names no user acts as the calling service, which it
    must name (x-gatehouse-caller); the audit says which service, never an anonymous "system"."""
    from permissions.models import AuditEntry

    stub = permissions_pb2_grpc.PermissionServiceStub(channel)
    role = stub.CreateRole(
        pb.CreateRoleRequest(name="wire-reader", permissions=pb.StringList(values=["rbac.role.view"])),
        timeout=5,
        metadata=credential,
    )
    assert role.result.name == "wire-reader"
    entry = AuditEntry.objects.get(action="role.created", target_id=role.result.id)
    assert (entry.actor_id, entry.actor_service) == (None, "tests@wire")
    token_only = tuple(item for item in credential if item[0] == "authorization")
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateRole(pb.CreateRoleRequest(name="anonymous"), timeout=5, metadata=token_only)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert AuditEntry.objects.filter(action="role.created").count() == 1  # the anonymous one made nothing
