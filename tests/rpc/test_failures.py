"""What a caller of the gRPC implementation sees when the server is gone: the interface's
ServiceUnavailable, quickly, and never a grpc exception."""

import time
import uuid

import grpc
import pytest
from django.db import transaction

from project.kernel.errors import ServiceUnavailable
from project.rpc.client import RemoteCallInTransaction
from tests.support.processes import free_port
from users.local import LocalUserService
from users.rpc.client import GrpcUserService


def test_a_killed_server_makes_the_grpc_implementation_raise_service_unavailable(start_server, transactional_db):
    server = start_server("users")
    users = GrpcUserService(target=server.target)
    ada = users.create_user(email="ada@example.com")
    assert users.get_user(user_id=ada.id) == ada

    server.process.kill()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        users.get_user(user_id=ada.id)
    assert not isinstance(caught.value, grpc.RpcError)
    assert caught.value == ServiceUnavailable()
    assert time.monotonic() - started < 3


def test_a_server_that_never_ran_raises_service_unavailable_at_once():
    users = GrpcUserService(target=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        users.get_users(user_ids=[uuid.uuid4()])
    assert time.monotonic() - started < 3


def test_a_remote_call_inside_a_database_transaction_is_refused(users_server, transactional_db):
    users = GrpcUserService(target=users_server.target)
    with transaction.atomic(), pytest.raises(RemoteCallInTransaction):
        users.get_users(user_ids=[])


def test_a_malformed_id_from_a_caller_in_another_language_is_invalid_argument(raw_channel, credential):
    from protos.gatehouse.users.v1 import users_pb2 as pb
    from protos.gatehouse.users.v1 import users_pb2_grpc

    with pytest.raises(grpc.RpcError) as caught:
        users_pb2_grpc.UserServiceStub(raw_channel).GetUser(
            pb.GetUserRequest(user_id="not-a-uuid"), metadata=credential, timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "user_id is not a valid UUID."


def test_data_written_in_process_is_read_over_grpc_and_back(users_server, transactional_db):
    local, remote = LocalUserService(), GrpcUserService(target=users_server.target)
    ada = local.create_user(email="ada@example.com")
    assert remote.get_user(user_id=ada.id) == ada
    grace = remote.create_user(email="grace@example.com")
    assert local.get_user(user_id=grace.id) == grace
