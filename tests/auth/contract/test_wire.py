"""What only the gRPC side has: the service on the wire, its health and reflection, and requests
that a Python caller of GrpcAuthService cannot make (other languages can)."""

import json

import grpc
import pytest
from django.conf import settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from auth.interface import AuthService
from auth.rpc.client import GrpcAuthService
from project.kernel.delegation import check_implements
from protos.gatehouse.auth.v1 import auth_pb2 as pb
from protos.gatehouse.auth.v1 import auth_pb2_grpc
from tests.support.factories import PASSWORD

SERVICE = "gatehouse.auth.v1.AuthService"


@pytest.fixture
def channel(auth_grpc_server):
    with grpc.insecure_channel(auth_grpc_server.target) as channel:
        yield channel


@pytest.fixture
def credential():
    return (("authorization", f"Bearer {settings.GATEHOUSE_GRPC_TOKEN}"), ("x-gatehouse-caller", "tests@wire"))


def test_the_client_implements_the_interface():
    check_implements(AuthService, GrpcAuthService(target="127.0.0.1:1"))


def test_the_server_reports_the_auth_service_serving(channel):
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_auth_service(channel, credential):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [reply] = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5, metadata=credential
    )
    assert SERVICE in [service.name for service in reply.list_services_response.service]


def test_a_call_without_the_service_credential_is_unauthenticated(channel):
    with pytest.raises(grpc.RpcError) as caught:
        auth_pb2_grpc.AuthServiceStub(channel).Jwks(pb.JwksRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    "method, request_",
    [
        ("Logout", pb.LogoutRequest(session_id="not-a-uuid")),
        ("ListSessions", pb.ListSessionsRequest(user_id="")),
        ("RevokeSession", pb.RevokeSessionRequest(user_id="00000000-0000-4000-8000-000000000000", session_id="x")),
        ("RevokeAllSessions", pb.RevokeAllSessionsRequest(user_id="x")),
        ("MfaEnabled", pb.MfaEnabledRequest(user_id="42")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_malformed_id_is_an_invalid_argument(channel, credential, transactional_db, method, request_):
    with pytest.raises(grpc.RpcError) as caught:
        getattr(auth_pb2_grpc.AuthServiceStub(channel), method)(request_, timeout=5, metadata=credential)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_login_without_client_info_is_served_as_from_an_unknown_client(channel, credential, ada):
    reply = auth_pb2_grpc.AuthServiceStub(channel).Login(
        pb.LoginRequest(email=ada.email, password=PASSWORD), timeout=5, metadata=credential
    )
    sessions = auth_pb2_grpc.AuthServiceStub(channel).ListSessions(
        pb.ListSessionsRequest(user_id=str(ada.id)), timeout=5, metadata=credential
    )
    [session] = sessions.result
    assert session.id == reply.result.session_id
    assert (session.ip, session.user_agent) == ("", "")
    assert not session.HasField("revoked_at")


def test_the_jwks_travels_as_a_json_document(channel, credential, transactional_db):
    reply = auth_pb2_grpc.AuthServiceStub(channel).Jwks(pb.JwksRequest(), timeout=5, metadata=credential)
    assert json.loads(reply.result)["keys"]
