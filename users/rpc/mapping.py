"""users.interface data objects <-> gatehouse.users.v1 messages, for the client and the servicer.

Errors need no mapping here: project.rpc.errors carries every DomainError by its kind.
"""

from __future__ import annotations

import uuid
from typing import Any

from project.rpc.messages import from_timestamp, int32, optional, present, timestamp, without_none
from protos.gatehouse.users.v1 import users_pb2 as pb
from users.interface import InvalidUserInput, User, UserPage


def user_to_pb(user: User) -> pb.User:
    return pb.User(
        id=str(user.id),
        email=user.email,
        display_name=user.display_name,
        is_active=user.is_active,
        is_verified=user.is_verified,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        date_joined=timestamp(user.date_joined),
        pending_email=user.pending_email,
    )


def user_from_pb(message: pb.User) -> User:
    return User(
        id=uuid.UUID(message.id),
        email=message.email,
        display_name=message.display_name,
        is_active=message.is_active,
        is_verified=message.is_verified,
        is_staff=message.is_staff,
        is_superuser=message.is_superuser,
        date_joined=from_timestamp(message.date_joined),
        pending_email=message.pending_email,
    )


def page_to_pb(page: UserPage) -> pb.ListResponse:
    return pb.ListResponse(results=[user_to_pb(user) for user in page.results], **without_none(next=page.next))


def page_from_pb(message: pb.ListResponse) -> UserPage:
    return UserPage(results=tuple(user_from_pb(user) for user in message.results), next=optional(message, "next"))


def _uuid(value: str, field: str) -> uuid.UUID:
    # Python callers pass UUIDs; a caller in another language may send anything.
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidUserInput(f"{field} is not a valid UUID.", details={field: ["Must be a UUID."]}) from None


# --- client side: keyword arguments of the interface -> request ------------------------------------


def create_request(*, email: str, password: str | None, **flags: Any) -> pb.CreateRequest:
    return pb.CreateRequest(email=email, **without_none(password=password, **flags))


def list_request(*, search: str | None, is_active: bool | None, limit: int, cursor: str | None) -> pb.ListRequest:
    return pb.ListRequest(limit=int32(limit), **without_none(search=search, is_active=is_active, cursor=cursor))


def update_request(*, user_id: uuid.UUID, **changes: Any) -> pb.UpdateRequest:
    return pb.UpdateRequest(user_id=str(user_id), **without_none(**changes))


# --- servicer side: request -> keyword arguments of the interface ----------------------------------

CREATE_OPTIONAL = ("password", "display_name", "is_active", "is_verified", "is_staff", "is_superuser")


def create_kwargs(request: pb.CreateRequest) -> dict[str, Any]:
    return {"email": request.email, **present(request, *CREATE_OPTIONAL)}


def user_id_from(
    request: pb.GetRequest | pb.DeactivateRequest | pb.CheckPasswordRequest | pb.SetPasswordRequest,
) -> uuid.UUID:
    return _uuid(request.user_id, "user_id")


def user_ids_from(request: pb.GetManyRequest) -> list[uuid.UUID]:
    return [_uuid(value, "user_ids") for value in request.user_ids]


def list_kwargs(request: pb.ListRequest) -> dict[str, Any]:
    return present(request, "search", "is_active", "limit", "cursor")


def update_kwargs(request: pb.UpdateRequest) -> dict[str, Any]:
    return {"user_id": _uuid(request.user_id, "user_id"), **present(request, "email", "display_name", "is_verified")}
