"""notifications.interface data objects <-> gatehouse.notifications.v1 messages, for the client and
the servicer.

Errors need no mapping here: project.rpc.errors carries every DomainError by its kind.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from notifications.interface import (
    Delivery,
    InboxMessage,
    InboxPage,
    InvalidNotification,
    NotificationType,
    Preference,
)
from project.rpc.messages import from_timestamp, int32, optional, present, timestamp, without_none
from protos.gatehouse.notifications.v1 import notifications_pb2 as pb


def _uuid(value: str, field: str) -> uuid.UUID:
    # Python callers pass UUIDs; a caller in another language may send anything.
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidNotification(f"{field} is not a valid UUID.", details={field: ["Must be a UUID."]}) from None


def _ids(values: Any) -> list[str]:
    return [str(value) for value in values]


# --- send ------------------------------------------------------------------------------------------


def _unencodable(value: Any) -> dict[str, str]:
    # A value JSON cannot carry (a date, a set) is not a string either: it travels as an object,
    # which the service refuses exactly as it refuses the value itself.
    return {"unencodable": type(value).__name__}


def send_request(
    *,
    type: str,
    context: Any,
    user_ids: Any,
    group_id: Any,
    role: str | None,
    scope: str | None,
    channels: Any,
    idempotency_key: str | None,
) -> pb.SendRequest:
    request = pb.SendRequest(
        type=str(type),
        context_json=json.dumps(context, default=_unencodable),
        **without_none(
            group_id=None if group_id is None else str(group_id),
            role=role,
            scope=scope,
            idempotency_key=idempotency_key,
        ),
    )
    if user_ids is not None:
        request.user_ids.SetInParent()
        request.user_ids.values.extend(_ids(user_ids))
    if channels is not None:
        request.channels.SetInParent()
        request.channels.values.extend(_ids(channels))
    return request


def send_kwargs(request: pb.SendRequest) -> dict[str, Any]:
    try:
        context = json.loads(request.context_json)
    except ValueError:
        raise InvalidNotification(
            "The context must be an object.", details={"context": ["Must be an object."]}
        ) from None
    return {
        "type": request.type,
        "context": context,
        "user_ids": list(request.user_ids.values) if request.HasField("user_ids") else None,
        "channels": list(request.channels.values) if request.HasField("channels") else None,
        **present(request, "group_id", "role", "scope", "idempotency_key"),
    }


# --- deliveries and types --------------------------------------------------------------------------


def delivery_to_pb(delivery: Delivery) -> pb.Delivery:
    return pb.Delivery(
        id=str(delivery.id),
        notification_id=str(delivery.notification_id),
        user_id=str(delivery.user_id),
        channel=delivery.channel,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        sent_at=None if delivery.sent_at is None else timestamp(delivery.sent_at),
        updated_at=timestamp(delivery.updated_at),
    )


def delivery_from_pb(message: pb.Delivery) -> Delivery:
    return Delivery(
        id=uuid.UUID(message.id),
        notification_id=uuid.UUID(message.notification_id),
        user_id=uuid.UUID(message.user_id),
        channel=message.channel,
        status=message.status,
        attempts=message.attempts,
        last_error=message.last_error,
        sent_at=from_timestamp(message.sent_at) if message.HasField("sent_at") else None,
        updated_at=from_timestamp(message.updated_at),
    )


def type_to_pb(definition: NotificationType) -> pb.NotificationType:
    return pb.NotificationType(
        code=definition.code,
        description=definition.description,
        default_channels=definition.default_channels,
        channels=definition.channels,
        mandatory=definition.mandatory,
        context_fields=definition.context_fields,
        required_context_fields=definition.required_context_fields,
    )


def type_from_pb(message: pb.NotificationType) -> NotificationType:
    return NotificationType(
        code=message.code,
        description=message.description,
        default_channels=tuple(message.default_channels),
        channels=tuple(message.channels),
        mandatory=message.mandatory,
        context_fields=tuple(message.context_fields),
        required_context_fields=tuple(message.required_context_fields),
    )


# --- inbox -----------------------------------------------------------------------------------------


def message_to_pb(message: InboxMessage) -> pb.InboxMessage:
    return pb.InboxMessage(
        id=str(message.id),
        notification_id=str(message.notification_id),
        type=message.type,
        subject=message.subject,
        body=message.body,
        created_at=timestamp(message.created_at),
        read_at=None if message.read_at is None else timestamp(message.read_at),
    )


def message_from_pb(message: pb.InboxMessage) -> InboxMessage:
    return InboxMessage(
        id=uuid.UUID(message.id),
        notification_id=uuid.UUID(message.notification_id),
        type=message.type,
        subject=message.subject,
        body=message.body,
        created_at=from_timestamp(message.created_at),
        read_at=from_timestamp(message.read_at) if message.HasField("read_at") else None,
    )


def page_to_pb(page: InboxPage) -> pb.ListInboxResponse:
    return pb.ListInboxResponse(
        results=[message_to_pb(message) for message in page.results], **without_none(next=page.next)
    )


def page_from_pb(message: pb.ListInboxResponse) -> InboxPage:
    return InboxPage(results=tuple(message_from_pb(m) for m in message.results), next=optional(message, "next"))


def list_inbox_request(*, user_id: uuid.UUID, unread_only: bool, limit: int, cursor: str | None) -> pb.ListInboxRequest:
    return pb.ListInboxRequest(
        user_id=str(user_id), unread_only=unread_only, limit=int32(limit), **without_none(cursor=cursor)
    )


def list_inbox_kwargs(request: pb.ListInboxRequest) -> dict[str, Any]:
    return {"user_id": user_id_from(request), **present(request, "unread_only", "limit", "cursor")}


def user_id_from(request: Any) -> uuid.UUID:
    return _uuid(request.user_id, "user_id")


def message_id_from(request: pb.MarkReadRequest) -> uuid.UUID:
    return _uuid(request.message_id, "message_id")


def notification_id_from(request: pb.GetDeliveriesRequest) -> uuid.UUID:
    return _uuid(request.notification_id, "notification_id")


# --- preferences -----------------------------------------------------------------------------------


def preference_to_pb(preference: Preference) -> pb.Preference:
    return pb.Preference(
        type=preference.type, channel=preference.channel, enabled=preference.enabled, mandatory=preference.mandatory
    )


def preference_from_pb(message: pb.Preference) -> Preference:
    return Preference(type=message.type, channel=message.channel, enabled=message.enabled, mandatory=message.mandatory)
