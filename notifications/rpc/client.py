"""notifications.interface.NotificationService over gRPC: installed instead of
LocalNotificationService when NOTIFICATIONS_GRPC_TARGET is set. Made by project.rpc.codec from the
Protocol and notifications.proto."""

from __future__ import annotations

from notifications.interface import InvalidNotification, NotificationService
from project.rpc.codec import remote_client
from protos.gatehouse.notifications.v1 import notifications_pb2, notifications_pb2_grpc

GrpcNotificationService = remote_client(
    NotificationService, notifications_pb2, notifications_pb2_grpc, "NotificationService", invalid=InvalidNotification
)
