"""notifications.interface.NotificationService over gRPC: installed instead of
LocalNotificationService when NOTIFICATIONS_GRPC_TARGET is set. Same signatures, same results,
same errors; no models.
"""

from __future__ import annotations

import uuid
from typing import Any

from notifications.interface import DEFAULT_PAGE_SIZE, Delivery, InboxPage, NotificationType, Preference
from project.rpc.client import ServiceClient
from protos.gatehouse.notifications.v1 import notifications_pb2 as pb
from protos.gatehouse.notifications.v1 import notifications_pb2_grpc

from . import mapping


class GrpcNotificationService:
    def __init__(self, *, target: str):
        self._rpc = ServiceClient(target, notifications_pb2_grpc.NotificationServiceStub)

    @property
    def target(self) -> str:
        return self._rpc.target

    def __repr__(self) -> str:
        return f"GrpcNotificationService(target={self.target!r})"

    def send(
        self,
        *,
        type: str,
        context: dict[str, Any],
        user_ids: list[uuid.UUID] | None = None,
        group_id: uuid.UUID | None = None,
        role: str | None = None,
        scope: str | None = None,
        channels: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> uuid.UUID:
        request = mapping.send_request(
            type=type,
            context=context,
            user_ids=user_ids,
            group_id=group_id,
            role=role,
            scope=scope,
            channels=channels,
            idempotency_key=idempotency_key,
        )
        return uuid.UUID(self._rpc.call("Send", request).notification_id)

    def get_deliveries(self, *, notification_id: uuid.UUID) -> list[Delivery]:
        reply = self._rpc.call("GetDeliveries", pb.GetDeliveriesRequest(notification_id=str(notification_id)))
        return [mapping.delivery_from_pb(delivery) for delivery in reply.deliveries]

    def list_types(self) -> list[NotificationType]:
        return [mapping.type_from_pb(t) for t in self._rpc.call("ListTypes", pb.ListTypesRequest()).types]

    def list_inbox(
        self,
        *,
        user_id: uuid.UUID,
        unread_only: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> InboxPage:
        request = mapping.list_inbox_request(user_id=user_id, unread_only=unread_only, limit=limit, cursor=cursor)
        return mapping.page_from_pb(self._rpc.call("ListInbox", request))

    def unread_count(self, *, user_id: uuid.UUID) -> int:
        return self._rpc.call("UnreadCount", pb.UnreadCountRequest(user_id=str(user_id))).count

    def mark_read(self, *, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
        self._rpc.call("MarkRead", pb.MarkReadRequest(user_id=str(user_id), message_id=str(message_id)))

    def mark_all_read(self, *, user_id: uuid.UUID) -> int:
        return self._rpc.call("MarkAllRead", pb.MarkAllReadRequest(user_id=str(user_id))).count

    def get_preferences(self, *, user_id: uuid.UUID) -> list[Preference]:
        reply = self._rpc.call("GetPreferences", pb.GetPreferencesRequest(user_id=str(user_id)))
        return [mapping.preference_from_pb(p) for p in reply.preferences]

    def set_preferences(self, *, user_id: uuid.UUID, preferences: list[Preference]) -> list[Preference]:
        request = pb.SetPreferencesRequest(
            user_id=str(user_id), preferences=[mapping.preference_to_pb(p) for p in preferences]
        )
        return [mapping.preference_from_pb(p) for p in self._rpc.call("SetPreferences", request).preferences]
