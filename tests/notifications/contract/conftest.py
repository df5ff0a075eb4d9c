"""One contract suite, two implementations: every test that takes `notifications` runs against
LocalNotificationService in this process and against GrpcNotificationService talking to a real
`manage.py grpcserve notifications` subprocess. A difference between the two is a bug.

`transactional_db`, not `db`: the server is another process, so test data must be committed to
be visible to it (and a remote call inside a transaction is refused anyway). Users, groups and
roles are created in this process; the server reaches the users and permissions services in its
own process, on the same database.

Deliveries run where the notification is sent, in process and at once (no broker on either
side), so a test sees them finished when `send` returns.
"""

from __future__ import annotations

import uuid

import pytest

from notifications.interface import NotificationService
from notifications.local import LocalNotificationService
from notifications.rpc.client import GrpcNotificationService
from tests.rpc.servers import start_grpcserve
from tests.support.factories import UserFactory
from users.interface import User

HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00."}
MISSING = uuid.UUID("00000000-0000-4000-8000-000000000000")


@pytest.fixture(scope="session")
def notifications_grpc_server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        server = start_grpcserve(
            tmp_path_factory.mktemp("notifications-contract"),
            "notifications",
            name="notifications-contract",
            CELERY_BROKER_URL="",  # deliveries in the server process, at once, as on this side
            EMAIL_URL="memorymail://",
        )
    yield server
    server.process.stop()


@pytest.fixture(params=["local", "grpc"])
def notifications(request, transactional_db, in_process_tasks) -> NotificationService:
    if request.param == "local":
        return LocalNotificationService()
    return GrpcNotificationService(target=request.getfixturevalue("notifications_grpc_server").target)


@pytest.fixture
def both(transactional_db, in_process_tasks, notifications_grpc_server) -> tuple[NotificationService, ...]:
    """The two implementations side by side, for comparing their answers directly."""
    return LocalNotificationService(), GrpcNotificationService(target=notifications_grpc_server.target)


def make_user(email: str) -> User:
    return UserFactory(email=email, display_name=email.split("@")[0].title())


@pytest.fixture
def ada(transactional_db) -> User:
    return make_user("ada@example.com")


@pytest.fixture
def grace(transactional_db) -> User:
    return make_user("grace@example.com")
