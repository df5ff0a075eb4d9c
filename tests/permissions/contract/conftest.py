"""One contract suite, two implementations: every test that takes `perms` runs against
LocalPermissionService in this process and against GrpcPermissionService talking to a real
`manage.py grpcserve permissions` subprocess. A difference between the two is a bug.

`transactional_db`, not `db`: the server is another process, so test data must be committed to
be visible to it (and a remote call inside a transaction is refused anyway).

Each process keeps its own RBAC cache unless they share Redis (stack mode). So a test sets its
world up through the implementation under test (or, in `both` tests, through the remote one
before this process has cached anything): the process that answers is then the one that saw
every write. That the two processes agree at once through a shared cache is the stack test in
test_consistency.py.
"""

from __future__ import annotations

import pytest

from permissions.interface import PermissionService
from permissions.local import LocalPermissionService
from permissions.rpc.client import GrpcPermissionService
from tests.rpc.servers import start_grpcserve


@pytest.fixture(scope="session")
def permissions_grpc_server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        server = start_grpcserve(
            tmp_path_factory.mktemp("permissions-contract"), "permissions", name="permissions-contract"
        )
    yield server
    server.process.stop()


@pytest.fixture(params=["local", "grpc"])
def perms(request, transactional_db, codes) -> PermissionService:
    if request.param == "local":
        return LocalPermissionService()
    return GrpcPermissionService(target=request.getfixturevalue("permissions_grpc_server").target)


@pytest.fixture
def both(transactional_db, codes, permissions_grpc_server) -> tuple[PermissionService, PermissionService]:
    """The two implementations side by side, for comparing their answers directly."""
    return LocalPermissionService(), GrpcPermissionService(target=permissions_grpc_server.target)
