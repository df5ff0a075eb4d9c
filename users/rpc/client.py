"""users.interface.UserService over gRPC: installed instead of LocalUserService when
USERS_GRPC_TARGET is set. Same signatures, same results, same errors; no models.
"""

from __future__ import annotations

import uuid

from project.rpc.client import ServiceClient
from protos.gatehouse.users.v1 import users_pb2 as pb
from protos.gatehouse.users.v1 import users_pb2_grpc
from users.interface import DEFAULT_PAGE_SIZE, User, UserPage

from . import mapping


class GrpcUserService:
    def __init__(self, *, target: str):
        self._rpc = ServiceClient(target, users_pb2_grpc.UserServiceStub)

    @property
    def target(self) -> str:
        return self._rpc.target

    def __repr__(self) -> str:
        return f"GrpcUserService(target={self.target!r})"

    def create(
        self,
        *,
        email: str,
        password: str | None = None,
        display_name: str = "",
        is_active: bool = True,
        is_verified: bool = False,
        is_staff: bool = False,
        is_superuser: bool = False,
    ) -> User:
        request = mapping.create_request(
            email=email,
            password=password,
            display_name=display_name,
            is_active=is_active,
            is_verified=is_verified,
            is_staff=is_staff,
            is_superuser=is_superuser,
        )
        return mapping.user_from_pb(self._rpc.call("Create", request).user)

    def get(self, *, user_id: uuid.UUID) -> User:
        return mapping.user_from_pb(self._rpc.call("Get", pb.GetRequest(user_id=str(user_id))).user)

    def get_by_email(self, *, email: str) -> User:
        return mapping.user_from_pb(self._rpc.call("GetByEmail", pb.GetByEmailRequest(email=email)).user)

    def get_many(self, *, user_ids: list[uuid.UUID]) -> list[User]:
        reply = self._rpc.call("GetMany", pb.GetManyRequest(user_ids=[str(user_id) for user_id in user_ids]))
        return [mapping.user_from_pb(user) for user in reply.users]

    def list(
        self,
        *,
        search: str | None = None,
        is_active: bool | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> UserPage:
        request = mapping.list_request(search=search, is_active=is_active, limit=limit, cursor=cursor)
        return mapping.page_from_pb(self._rpc.call("List", request))

    def update(
        self,
        *,
        user_id: uuid.UUID,
        email: str | None = None,
        display_name: str | None = None,
        is_verified: bool | None = None,
    ) -> User:
        request = mapping.update_request(
            user_id=user_id, email=email, display_name=display_name, is_verified=is_verified
        )
        return mapping.user_from_pb(self._rpc.call("Update", request).user)

    def email_change_confirm(self, *, user_id: uuid.UUID, email: str) -> User:
        request = pb.EmailChangeConfirmRequest(user_id=str(user_id), email=email)
        return mapping.user_from_pb(self._rpc.call("EmailChangeConfirm", request).user)

    def verify_password(self, *, email: str, password: str) -> User | None:
        reply = self._rpc.call("VerifyPassword", pb.VerifyPasswordRequest(email=email, password=password))
        return mapping.user_from_pb(reply.user) if reply.HasField("user") else None

    def check_password(self, *, user_id: uuid.UUID, password: str) -> bool:
        return self._rpc.call("CheckPassword", pb.CheckPasswordRequest(user_id=str(user_id), password=password)).ok

    def set_password(self, *, user_id: uuid.UUID, password: str) -> None:
        self._rpc.call("SetPassword", pb.SetPasswordRequest(user_id=str(user_id), password=password))

    def deactivate(self, *, user_id: uuid.UUID) -> User:
        return mapping.user_from_pb(self._rpc.call("Deactivate", pb.DeactivateRequest(user_id=str(user_id))).user)
