"""What only the gRPC side has: the service on the wire, its health and reflection, and requests
that a Python caller of GrpcNotificationService cannot make (other languages can)."""

from __future__ import annotations

import subprocess
import uuid

import grpc
import pytest
from django.conf import settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from notifications.interface import NotificationService
from notifications.local import LocalNotificationService
from notifications.rpc.client import GrpcNotificationService
from project.kernel.delegation import check_implements
from protos.gatehouse.notifications.v1 import notifications_pb2 as pb
from protos.gatehouse.notifications.v1 import notifications_pb2_grpc
from tests.support.processes import ROOT, manage, subprocess_env

SERVICE = "gatehouse.notifications.v1.NotificationService"


@pytest.fixture
def channel(notifications_grpc_server):
    with grpc.insecure_channel(notifications_grpc_server.target) as channel:
        yield channel


@pytest.fixture
def credential():
    return (("authorization", f"Bearer {settings.GATEHOUSE_GRPC_TOKEN}"), ("x-gatehouse-caller", "tests@wire"))


def stub(channel):
    return notifications_pb2_grpc.NotificationServiceStub(channel)


def test_the_client_implements_the_interface():
    check_implements(NotificationService, GrpcNotificationService(target="127.0.0.1:1"))


def test_the_server_reports_the_notification_service_serving(channel):
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_notification_service(channel, credential):
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    [reply] = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5, metadata=credential
    )
    assert SERVICE in [service.name for service in reply.list_services_response.service]


def test_a_call_without_the_service_credential_is_unauthenticated(channel):
    with pytest.raises(grpc.RpcError) as caught:
        stub(channel).ListTypes(pb.ListTypesRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    "method, request_",
    [
        ("GetDeliveries", pb.GetDeliveriesRequest(notification_id="not-a-uuid")),
        ("CountUnread", pb.CountUnreadRequest(user_id="")),
        ("ListInbox", pb.ListInboxRequest(user_id="42")),
        ("MarkRead", pb.MarkReadRequest(user_id="00000000-0000-4000-8000-000000000000", message_id="x")),
        ("MarkAllRead", pb.MarkAllReadRequest(user_id="x")),
        ("GetPreferences", pb.GetPreferencesRequest(user_id="x")),
        ("SetPreferences", pb.SetPreferencesRequest(user_id="x")),
        ("SendNotification", pb.SendNotificationRequest(type="announcement", context="{not json")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_malformed_request_is_an_invalid_argument(channel, credential, transactional_db, method, request_):
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub(channel), method)(request_, timeout=5, metadata=credential)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_unread_count_answers_over_the_wire(channel, credential, transactional_db):
    reply = stub(channel).CountUnread(
        pb.CountUnreadRequest(user_id="00000000-0000-4000-8000-000000000000"), timeout=5, metadata=credential
    )
    assert reply.result == 0


def test_with_notifications_grpc_target_set_the_service_is_the_grpc_client(notifications_grpc_server, ada):
    script = (
        "import uuid; from notifications.interface import notification_service as service; "
        "print(type(service.send_notification.__self__).__name__); "
        f"print(service.send_notification(type='announcement', user_ids=[uuid.UUID('{ada.id}')], "
        "context={'subject': 'Hi', 'body': 'There'}, channels=['in_app']))"
    )
    result = subprocess.run(
        manage("shell", "--verbosity", "0", "-c", script),
        cwd=ROOT,
        env=subprocess_env(NOTIFICATIONS_GRPC_TARGET=notifications_grpc_server.target),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    name, notification_id = result.stdout.split()
    assert name == "GrpcNotificationService"
    # Recorded and delivered by the server process, on the shared database.
    [delivery] = LocalNotificationService().get_deliveries(notification_id=uuid.UUID(notification_id))
    assert (delivery.user_id, delivery.channel, delivery.status) == (ada.id, "in_app", "sent")
