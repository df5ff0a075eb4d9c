"""Fixtures of the notifications tests: users to notify, embedded mode, sealed tokens; and for the
stack tests, the broker with the delivery tasks routed to it, an SMTP sink and a worker."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import pytest
from django.core import mail

from auth.interface import ONE_TIME_TOKEN_SEAL
from notifications.handlers import CONSUMER
from notifications.interface import TYPE_WELCOME
from notifications.models import Notification
from project.crypto import seal_for
from tests.support.factories import UserFactory
from tests.support.processes import celery_worker
from tests.support.smtp import smtp_sink
from users.interface import User

FRONTEND = "https://app.example.com"


@pytest.fixture
def embedded(settings, in_process_tasks):
    """Tasks and events in-process, whatever the mode of the run (stack runs have a broker)."""
    settings.GATEHOUSE_FRONTEND_URL = FRONTEND


def make_user(email: str, **kwargs) -> User:
    user = UserFactory(email=email, display_name=email.split("@")[0].title(), **kwargs)
    # Whatever registering a user sends (the verification mail, the welcome) is not under test here.
    mail.outbox.clear()
    Notification.objects.filter(type=TYPE_WELCOME, deliveries__user_id=user.id).delete()
    return user


@pytest.fixture
def ada(embedded) -> User:
    return make_user("ada@example.com")


@pytest.fixture
def grace(embedded) -> User:
    return make_user("grace@example.com")


def one_time_token(user_id) -> tuple[str, str]:
    """A token as auth makes one for `user_id`, and its sealed form as auth's events carry it."""
    token = secrets.token_urlsafe(32)
    return token, seal_for(token, purpose=ONE_TIME_TOKEN_SEAL, subject=str(user_id))


def send_as_gatehouse(**request) -> uuid.UUID:
    """Send a type that only Gatehouse sends (a security notice, a mail with a one-time link): its
    event handlers call the core service directly; `notification_service.send` refuses the type."""
    from notifications.core.sending import send_notification

    return send_notification(**request).id


@pytest.fixture
def broker(broker, monkeypatch):
    """The stack tests' private exchange and task queue (tests/conftest.py), with the delivery tasks
    this process queues sent to that queue too, where only this test's workers take them."""
    from notifications.tasks import DELIVER_BATCH_TASK, DELIVER_TASK
    from project.celery import app as celery_app

    for name in (DELIVER_TASK, DELIVER_BATCH_TASK):
        task = celery_app.tasks[name]
        monkeypatch.setattr(task, "queue", broker.task_queue, raising=False)
        monkeypatch.setattr(task, "_exec_options", None)  # Celery caches the options read from the task
    return broker


@pytest.fixture
def smtp():
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def worker(broker, smtp, tmp_path: Path):
    """A `celery worker` hosting the notifications consumer and running the delivery tasks it
    queues, mailing through the SMTP sink."""
    process = celery_worker(broker, CONSUMER, log_dir=tmp_path, **worker_env(broker, smtp))
    yield process
    process.stop(timeout=10)


def worker_env(broker, smtp, **env: str) -> dict[str, str]:
    """The environment of a notifications worker: the tasks it queues go to the private task queue,
    its mail to `smtp`."""
    return {
        "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
        "GATEHOUSE_TEST_TASK_QUEUE": broker.task_queue,
        "GATEHOUSE_FRONTEND_URL": FRONTEND,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        **env,
    }
