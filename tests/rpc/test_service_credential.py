"""Every call but health checks needs `authorization: Bearer <GATEHOUSE_GRPC_TOKEN>`."""

import grpc
import pytest
from django.test import override_settings

from project.kernel.errors import Unauthenticated
from protos.gatehouse.users.v1 import users_pb2 as pb
from protos.gatehouse.users.v1 import users_pb2_grpc
from tests.support.factories import UserFactory

TOKEN = "test-only-grpc-token"


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer wrong-token"),),
        (("authorization", TOKEN),),
        (("authorization", f"Basic {TOKEN}"),),
        (("authorization", f"Bearer {TOKEN}x"),),
        (("authorization", f"Bearer {TOKEN[:-1]}"),),
        (("authorization", "Bearer "),),
    ],
    ids=["none", "wrong", "no scheme", "basic", "longer", "shorter", "empty"],
)
def test_a_call_without_the_right_service_token_is_unauthenticated(raw_channel, metadata):
    stub = users_pb2_grpc.UserServiceStub(raw_channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetUsers(pb.GetUsersRequest(), metadata=metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_call_with_the_service_token_is_served(raw_channel, credential):
    stub = users_pb2_grpc.UserServiceStub(raw_channel)
    assert list(stub.GetUsers(pb.GetUsersRequest(), metadata=credential, timeout=5).result) == []


def test_the_grpc_implementation_with_a_wrong_token_raises_the_interface_error(remote_users):
    with override_settings(GATEHOUSE_GRPC_TOKEN="not-the-token"), pytest.raises(Unauthenticated) as caught:
        remote_users.get_users(user_ids=[])
    assert not isinstance(caught.value, grpc.RpcError)
    assert caught.value == Unauthenticated("A valid service credential is required.", code="invalid_service_credential")


# Issue 15 item 16: never an anonymous caller.


def test_a_call_that_names_no_calling_service_is_refused(raw_channel, credential):
    stub = users_pb2_grpc.UserServiceStub(raw_channel)
    token_only = tuple(item for item in credential if item[0] == "authorization")
    for metadata in (
        token_only,
        (*token_only, ("x-gatehouse-caller", "")),
        (*token_only, ("x-gatehouse-caller", "<script>")),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetUsers(pb.GetUsersRequest(), metadata=metadata, timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "x-gatehouse-caller" in caught.value.details()


def test_verify_password_over_grpc_is_bounded_per_account(start_server, transactional_db):
    """Issue 15 item 5: gRPC UserService.VerifyPassword answered every guess. It now refuses
    (RESOURCE_EXHAUSTED, too_many_attempts) after GATEHOUSE_VERIFY_PASSWORD_MAX_FAILURES wrong
    passwords for one account, the right one included."""
    from users.interface import PasswordChecksExhausted

    UserFactory(email="ada@example.com")
    server = start_server("users", GATEHOUSE_VERIFY_PASSWORD_MAX_FAILURES="3")
    from users.rpc.client import GrpcUserService

    remote = GrpcUserService(target=server.target)
    answers = [remote.verify_password(email="ada@example.com", password=f"wrong-{i}") for i in range(3)]
    assert answers == [None, None, None]
    with pytest.raises(PasswordChecksExhausted):
        remote.verify_password(email="ada@example.com", password="a-Long-unguessable-passphrase-42")
    assert remote.verify_password(email="other@example.com", password="x") is None  # per account
