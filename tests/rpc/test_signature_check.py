"""The gRPC implementation is held to the interface's signatures at start-up, like the local one."""

import subprocess
import uuid

import pytest

from project.kernel.delegation import SignatureMismatch, check_implements, provide
from tests.support.processes import ROOT, manage, subprocess_env
from users.interface import User, UserService
from users.local import LocalUserService
from users.rpc.client import GrpcUserService


def test_the_grpc_implementation_has_exactly_the_interfaces_signatures():
    check_implements(UserService, GrpcUserService(target="127.0.0.1:1"))


class PositionalGet(GrpcUserService):
    def get_user(self, user_id: uuid.UUID) -> User:  # not keyword-only
        raise NotImplementedError


class RenamedArgument(GrpcUserService):
    def get_user_by_email(self, *, address: str) -> User:
        raise NotImplementedError


class DriftedDefault(GrpcUserService):
    def list_users(self, *, search=None, is_active=None, limit: int = 100, cursor=None):
        raise NotImplementedError


class ExtraArgument(GrpcUserService):
    def deactivate_user(self, *, user_id: uuid.UUID, reason: str = "") -> User:
        raise NotImplementedError


class DriftedAnnotation(GrpcUserService):
    def get_user_by_email(self, *, email: bytes) -> User:  # same names, another type
        raise NotImplementedError


class MissingMethod:
    def __init__(self):
        self._local = LocalUserService()

    def __getattr__(self, name):
        if name == "update_user":
            raise AttributeError(name)
        return getattr(self._local, name)


@pytest.mark.parametrize(
    "wrong", [PositionalGet, RenamedArgument, DriftedDefault, ExtraArgument, DriftedAnnotation, MissingMethod]
)
def test_an_implementation_whose_signatures_differ_is_refused_at_start_up(wrong):
    impl = wrong() if wrong is MissingMethod else wrong(target="127.0.0.1:1")
    with pytest.raises(SignatureMismatch):
        check_implements(UserService, impl)
    with pytest.raises(SignatureMismatch):
        provide("test-users-wrong", impl, interface=UserService)


def test_with_users_grpc_target_set_the_users_service_is_the_grpc_client(users_server, transactional_db):
    ada = LocalUserService().create_user(email="ada@example.com")
    script = (
        "from users.interface import user_service; "
        "print(type(user_service.get_user.__self__).__name__); "
        "print(user_service.get_user_by_email(email='ADA@example.com').id)"
    )
    result = subprocess.run(
        manage("shell", "--verbosity", "0", "-c", script),
        cwd=ROOT,
        env=subprocess_env(USERS_GRPC_TARGET=users_server.target),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["GrpcUserService", str(ada.id)]
