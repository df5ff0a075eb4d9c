"""One contract suite, two implementations: every test that takes `users` runs against
LocalUserService in this process and against GrpcUserService talking to a real
`manage.py grpcserve users` subprocess. A difference between the two is a bug.

`transactional_db`, not `db`: the server is another process, so test data must be committed to
be visible to it (and a remote call inside a transaction is refused anyway).
"""

from __future__ import annotations

import pytest

from tests.rpc.servers import start_grpcserve
from users.interface import UserService
from users.local import LocalUserService
from users.rpc.client import GrpcUserService


@pytest.fixture(scope="session")
def users_grpc_server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        server = start_grpcserve(tmp_path_factory.mktemp("users-contract"), "users", name="users-contract")
    yield server
    server.process.stop()


@pytest.fixture(params=["local", "grpc"])
def users(request, transactional_db) -> UserService:
    if request.param == "local":
        return LocalUserService()
    return GrpcUserService(target=request.getfixturevalue("users_grpc_server").target)


@pytest.fixture
def both(transactional_db, users_grpc_server) -> tuple[UserService, UserService]:
    """The two implementations side by side, for comparing their answers directly."""
    return LocalUserService(), GrpcUserService(target=users_grpc_server.target)
