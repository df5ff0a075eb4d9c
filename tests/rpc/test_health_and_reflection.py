"""The standard health service (open to probes) and server reflection (behind the credential)."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from protos.gatehouse.users.v1 import users_pb2

USER_SERVICE = "gatehouse.users.v1.UserService"


@pytest.mark.parametrize("service", ["", USER_SERVICE])
def test_health_answers_serving_without_a_token(raw_channel, service):
    reply = health_pb2_grpc.HealthStub(raw_channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_health_of_a_service_the_server_does_not_serve_is_not_found(raw_channel):
    with pytest.raises(grpc.RpcError) as caught:
        health_pb2_grpc.HealthStub(raw_channel).Check(
            health_pb2.HealthCheckRequest(service="gatehouse.auth.v1.AuthService"), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def _reflect(channel, request, metadata=()):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    return list(stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=5))


def test_reflection_lists_the_user_service_health_and_reflection(raw_channel, credential):
    [reply] = _reflect(raw_channel, reflection_pb2.ServerReflectionRequest(list_services=""), credential)
    names = {service.name for service in reply.list_services_response.service}
    assert names == {USER_SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}


def test_reflection_describes_the_user_service(raw_channel, credential):
    [reply] = _reflect(
        raw_channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=USER_SERVICE), credential
    )
    assert users_pb2.DESCRIPTOR.serialized_pb in reply.file_descriptor_response.file_descriptor_proto


def test_reflection_needs_the_service_token(raw_channel):
    with pytest.raises(grpc.RpcError) as caught:
        _reflect(raw_channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_watch_streams_serving_without_a_token(raw_channel):
    stream = health_pb2_grpc.HealthStub(raw_channel).Watch(
        health_pb2.HealthCheckRequest(service=USER_SERVICE), timeout=5
    )
    try:
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
    finally:
        stream.cancel()
