"""gatehouse.notifications.v1.NotificationService, served by the in-process implementation (made
by project.rpc.codec). Errors are raised as they are; the interceptor chain
(project.rpc.interceptors) turns them into statuses."""

from __future__ import annotations

import grpc

from notifications.interface import InvalidNotification, NotificationService
from notifications.local import LocalNotificationService
from project.rpc.codec import servicer
from protos.gatehouse.notifications.v1 import notifications_pb2, notifications_pb2_grpc


def register(server: grpc.Server) -> str:
    """Add the notifications servicer to `server` (project.rpc.server.SERVICERS); the gRPC
    service's name. The local implementation, never notifications.interface.notification_service:
    a server whose own NOTIFICATIONS_GRPC_TARGET is set must not call itself."""
    notifications_pb2_grpc.add_NotificationServiceServicer_to_server(
        servicer(
            NotificationService,
            LocalNotificationService(),
            notifications_pb2,
            notifications_pb2_grpc,
            "NotificationService",
            invalid=InvalidNotification,
            # SendNotification validates its recipients' ids itself, with its own messages: over the wire too.
            lenient={"send_notification"},
        ),
        server,
    )
    return notifications_pb2.DESCRIPTOR.services_by_name["NotificationService"].full_name
