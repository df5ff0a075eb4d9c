"""gatehouse.notifications.v1.NotificationService, served by the in-process implementation.

Thin on purpose: requests become interface calls, results become replies. Errors are raised as
they are; the interceptor chain (project.rpc.interceptors) turns them into statuses.
"""

from __future__ import annotations

import grpc

from notifications.interface import NotificationService
from notifications.local import LocalNotificationService
from protos.gatehouse.notifications.v1 import notifications_pb2 as pb
from protos.gatehouse.notifications.v1 import notifications_pb2_grpc

from . import mapping


class NotificationServicer(notifications_pb2_grpc.NotificationServiceServicer):
    def __init__(self, notifications: NotificationService | None = None):
        # The local implementation, not notifications.interface.notification_service: a server
        # whose own NOTIFICATIONS_GRPC_TARGET is set must not call itself.
        self.notifications = notifications or LocalNotificationService()

    def Send(self, request: pb.SendRequest, context: grpc.ServicerContext) -> pb.SendResponse:
        notification_id = self.notifications.send(**mapping.send_kwargs(request))
        return pb.SendResponse(notification_id=str(notification_id))

    def GetDeliveries(
        self, request: pb.GetDeliveriesRequest, context: grpc.ServicerContext
    ) -> pb.GetDeliveriesResponse:
        deliveries = self.notifications.get_deliveries(notification_id=mapping.notification_id_from(request))
        return pb.GetDeliveriesResponse(deliveries=[mapping.delivery_to_pb(delivery) for delivery in deliveries])

    def ListTypes(self, request: pb.ListTypesRequest, context: grpc.ServicerContext) -> pb.ListTypesResponse:
        return pb.ListTypesResponse(types=[mapping.type_to_pb(t) for t in self.notifications.list_types()])

    def ListInbox(self, request: pb.ListInboxRequest, context: grpc.ServicerContext) -> pb.ListInboxResponse:
        return mapping.page_to_pb(self.notifications.list_inbox(**mapping.list_inbox_kwargs(request)))

    def UnreadCount(self, request: pb.UnreadCountRequest, context: grpc.ServicerContext) -> pb.UnreadCountResponse:
        return pb.UnreadCountResponse(count=self.notifications.unread_count(user_id=mapping.user_id_from(request)))

    def MarkRead(self, request: pb.MarkReadRequest, context: grpc.ServicerContext) -> pb.MarkReadResponse:
        self.notifications.mark_read(user_id=mapping.user_id_from(request), message_id=mapping.message_id_from(request))
        return pb.MarkReadResponse()

    def MarkAllRead(self, request: pb.MarkAllReadRequest, context: grpc.ServicerContext) -> pb.MarkAllReadResponse:
        return pb.MarkAllReadResponse(count=self.notifications.mark_all_read(user_id=mapping.user_id_from(request)))

    def GetPreferences(
        self, request: pb.GetPreferencesRequest, context: grpc.ServicerContext
    ) -> pb.GetPreferencesResponse:
        preferences = self.notifications.get_preferences(user_id=mapping.user_id_from(request))
        return pb.GetPreferencesResponse(preferences=[mapping.preference_to_pb(p) for p in preferences])

    def SetPreferences(
        self, request: pb.SetPreferencesRequest, context: grpc.ServicerContext
    ) -> pb.SetPreferencesResponse:
        preferences = self.notifications.set_preferences(
            user_id=mapping.user_id_from(request),
            preferences=[mapping.preference_from_pb(p) for p in request.preferences],
        )
        return pb.SetPreferencesResponse(preferences=[mapping.preference_to_pb(p) for p in preferences])


def register(server: grpc.Server) -> str:
    """Add the notifications servicer to `server` (project.rpc.server.SERVICERS); the gRPC
    service's name."""
    notifications_pb2_grpc.add_NotificationServiceServicer_to_server(NotificationServicer(), server)
    return pb.DESCRIPTOR.services_by_name["NotificationService"].full_name
