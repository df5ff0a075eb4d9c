"""The request id travels with a call: the client sends the bound one, the server binds it (its
logs carry it) and sends it back."""

import uuid

import pytest

from project.kernel.context import request_id_scope
from protos.gatehouse.users.v1 import users_pb2 as pb
from protos.gatehouse.users.v1 import users_pb2_grpc


def test_the_request_id_bound_by_the_caller_reaches_the_servers_log(users_server, remote_users):
    request_id = f"rpc-test-{uuid.uuid4().hex}"
    with request_id_scope(request_id):
        remote_users.get_users(user_ids=[])
    [record] = [r for r in users_server.log_records() if r.get("request_id") == request_id]
    assert record["grpc_method"] == "/gatehouse.users.v1.UserService/GetUsers"
    assert record["grpc_code"] == "OK"


def test_the_server_echoes_the_request_id_in_its_initial_metadata(raw_channel, credential):
    request_id = f"rpc-test-{uuid.uuid4().hex}"
    stub = users_pb2_grpc.UserServiceStub(raw_channel)
    _, call = stub.GetUsers.with_call(
        pb.GetUsersRequest(), metadata=(*credential, ("x-request-id", request_id)), timeout=5
    )
    assert ("x-request-id", request_id) in call.initial_metadata()


@pytest.mark.parametrize("sent", [None, "short", "has spaces in it", "x" * 200])
def test_a_missing_or_insane_request_id_is_replaced_by_a_fresh_one(raw_channel, credential, sent):
    stub = users_pb2_grpc.UserServiceStub(raw_channel)
    metadata = credential if sent is None else (*credential, ("x-request-id", sent))
    _, call = stub.GetUsers.with_call(pb.GetUsersRequest(), metadata=metadata, timeout=5)
    echoed = dict(call.initial_metadata())["x-request-id"]
    assert echoed != sent
    assert len(echoed) == 32
    int(echoed, 16)


def test_a_request_id_is_echoed_on_a_failed_call_too(raw_channel, credential):
    request_id = f"rpc-test-{uuid.uuid4().hex}"
    stub = users_pb2_grpc.UserServiceStub(raw_channel)
    future = stub.GetUser.future(
        pb.GetUserRequest(user_id=str(uuid.uuid4())), metadata=(*credential, ("x-request-id", request_id)), timeout=5
    )
    assert future.exception() is not None
    assert ("x-request-id", request_id) in future.initial_metadata()
