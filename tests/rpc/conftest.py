"""Real `manage.py grpcserve` processes on real ports, against the test database."""

from __future__ import annotations

import grpc
import pytest
from django.conf import settings

from tests.rpc.servers import GrpcServe, start_grpcserve
from users.rpc.client import GrpcUserService


@pytest.fixture(scope="session")
def users_server(django_db_setup, django_db_blocker, tmp_path_factory) -> GrpcServe:
    """One server for the tests that leave it running."""
    with django_db_blocker.unblock():
        server = start_grpcserve(tmp_path_factory.mktemp("users-rpc"), "users", name="users-rpc", metrics=True)
    yield server
    server.process.stop()


@pytest.fixture
def start_server(django_db_setup, django_db_blocker, tmp_path):
    """Start servers of the test's own, for tests that stop or kill them."""
    started: list[GrpcServe] = []

    def start(*args: str, **kwargs) -> GrpcServe:
        with django_db_blocker.unblock():
            server = start_grpcserve(tmp_path, *args, name=f"grpcserve-{len(started)}", **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.process.stop()


@pytest.fixture
def remote_users(users_server) -> GrpcUserService:
    return GrpcUserService(target=users_server.target)


@pytest.fixture
def raw_channel(users_server):
    """A bare channel, for calls made the way a non-Gatehouse client would make them."""
    with grpc.insecure_channel(users_server.target) as channel:
        yield channel


@pytest.fixture
def credential() -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {settings.GATEHOUSE_GRPC_TOKEN}"), ("x-gatehouse-caller", "tests@wire"))
