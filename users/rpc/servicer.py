"""gatehouse.users.v1.UserService, served by the in-process implementation (made by
project.rpc.codec). Errors are raised as they are; the interceptor chain (project.rpc.interceptors)
turns them into statuses."""

from __future__ import annotations

import hashlib

import grpc
from django.conf import settings
from django.core.cache import cache

from project.rpc.codec import servicer
from protos.gatehouse.users.v1 import users_pb2, users_pb2_grpc
from users.interface import PasswordChecksExhausted, User, UserService
from users.local import LocalUserService

VERIFY_WINDOW_SECONDS = 15 * 60


def _failure_key(email: str) -> str:
    return "users:verify-failures:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class WireUserService(LocalUserService):
    """The local implementation as the wire sees it. `verify_password` is a password oracle on
    the wire: bounded per account (issue 15, item 5). The auth service, its usual caller, locks an
    account after GATEHOUSE_LOGIN_MAX_FAILURES and stops asking long before this; anyone else
    holding the service token gets no more guesses than that."""

    def verify_password(self, *, email: str, password: str) -> User | None:
        failures = _failure_key(email)
        if (cache.get(failures) or 0) >= settings.GATEHOUSE_VERIFY_PASSWORD_MAX_FAILURES:
            raise PasswordChecksExhausted()
        user = super().verify_password(email=email, password=password)
        if user is None:
            cache.add(failures, 0, VERIFY_WINDOW_SECONDS)
            try:
                cache.incr(failures)
            except ValueError:  # expired in between
                cache.set(failures, 1, VERIFY_WINDOW_SECONDS)
        return user


def register(server: grpc.Server) -> str:
    """Add the users servicer to `server` (project.rpc.server.SERVICERS); the gRPC service's name.
    The local implementation, never users.interface.user_service: a server whose own
    USERS_GRPC_TARGET is set must not call itself."""
    from .orgs import register as register_orgs

    users_pb2_grpc.add_UserServiceServicer_to_server(
        servicer(UserService, WireUserService(), users_pb2, users_pb2_grpc, "UserService"), server
    )
    register_orgs(server)  # organizations live with the users tables (docs/orgs.md)
    return users_pb2.DESCRIPTOR.services_by_name["UserService"].full_name
