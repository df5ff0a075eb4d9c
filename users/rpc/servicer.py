"""gatehouse.users.v1.UserService, served by the in-process implementation.

Thin on purpose: requests become interface calls, results become replies. Errors are raised as
they are; the interceptor chain (project.rpc.interceptors) turns them into statuses.
"""

from __future__ import annotations

import hashlib

import grpc
from django.conf import settings
from django.core.cache import cache

from protos.gatehouse.users.v1 import users_pb2 as pb
from protos.gatehouse.users.v1 import users_pb2_grpc
from users.interface import PasswordChecksExhausted, UserService
from users.local import LocalUserService

from . import mapping

VERIFY_WINDOW_SECONDS = 15 * 60


def _failure_key(email: str) -> str:
    return "users:verify-failures:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class UserServicer(users_pb2_grpc.UserServiceServicer):
    def __init__(self, users: UserService | None = None):
        # The local implementation, not users.interface.user_service: a server whose own
        # USERS_GRPC_TARGET is set must not call itself.
        self.users = users or LocalUserService()

    def Create(self, request: pb.CreateRequest, context: grpc.ServicerContext) -> pb.CreateResponse:
        return pb.CreateResponse(user=mapping.user_to_pb(self.users.create(**mapping.create_kwargs(request))))

    def Get(self, request: pb.GetRequest, context: grpc.ServicerContext) -> pb.GetResponse:
        return pb.GetResponse(user=mapping.user_to_pb(self.users.get(user_id=mapping.user_id_from(request))))

    def GetByEmail(self, request: pb.GetByEmailRequest, context: grpc.ServicerContext) -> pb.GetByEmailResponse:
        return pb.GetByEmailResponse(user=mapping.user_to_pb(self.users.get_by_email(email=request.email)))

    def GetMany(self, request: pb.GetManyRequest, context: grpc.ServicerContext) -> pb.GetManyResponse:
        users = self.users.get_many(user_ids=mapping.user_ids_from(request))
        return pb.GetManyResponse(users=[mapping.user_to_pb(user) for user in users])

    def List(self, request: pb.ListRequest, context: grpc.ServicerContext) -> pb.ListResponse:
        return mapping.page_to_pb(self.users.list(**mapping.list_kwargs(request)))

    def Update(self, request: pb.UpdateRequest, context: grpc.ServicerContext) -> pb.UpdateResponse:
        return pb.UpdateResponse(user=mapping.user_to_pb(self.users.update(**mapping.update_kwargs(request))))

    def EmailChangeConfirm(
        self, request: pb.EmailChangeConfirmRequest, context: grpc.ServicerContext
    ) -> pb.EmailChangeConfirmResponse:
        user = self.users.email_change_confirm(user_id=mapping.user_id_from(request), email=request.email)
        return pb.EmailChangeConfirmResponse(user=mapping.user_to_pb(user))

    def VerifyPassword(
        self, request: pb.VerifyPasswordRequest, context: grpc.ServicerContext
    ) -> pb.VerifyPasswordResponse:
        # A password oracle on the wire: bounded per account (issue 15, item 5). The auth service,
        # its usual caller, locks an account after GATEHOUSE_LOGIN_MAX_FAILURES and stops asking
        # long before this; anyone else holding the service token gets no more guesses than that.
        failures = _failure_key(request.email)
        if (cache.get(failures) or 0) >= settings.GATEHOUSE_VERIFY_PASSWORD_MAX_FAILURES:
            raise PasswordChecksExhausted()
        user = self.users.verify_password(email=request.email, password=request.password)
        if user is None:
            cache.add(failures, 0, VERIFY_WINDOW_SECONDS)
            try:
                cache.incr(failures)
            except ValueError:  # expired in between
                cache.set(failures, 1, VERIFY_WINDOW_SECONDS)
        return pb.VerifyPasswordResponse(user=None if user is None else mapping.user_to_pb(user))

    def CheckPassword(
        self, request: pb.CheckPasswordRequest, context: grpc.ServicerContext
    ) -> pb.CheckPasswordResponse:
        return pb.CheckPasswordResponse(
            ok=self.users.check_password(user_id=mapping.user_id_from(request), password=request.password)
        )

    def SetPassword(self, request: pb.SetPasswordRequest, context: grpc.ServicerContext) -> pb.SetPasswordResponse:
        self.users.set_password(user_id=mapping.user_id_from(request), password=request.password)
        return pb.SetPasswordResponse()

    def Deactivate(self, request: pb.DeactivateRequest, context: grpc.ServicerContext) -> pb.DeactivateResponse:
        return pb.DeactivateResponse(
            user=mapping.user_to_pb(self.users.deactivate(user_id=mapping.user_id_from(request)))
        )


def register(server: grpc.Server) -> str:
    """Add the users servicer to `server` (project.rpc.server.SERVICERS); the gRPC service's name."""
    users_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(), server)
    return pb.DESCRIPTOR.services_by_name["UserService"].full_name
