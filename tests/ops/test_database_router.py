"""project.routers: a core service's models go to its own database when this process has one."""

from __future__ import annotations

from django.conf import settings
from django.db import router

from auth.models import Session
from notifications.models import Delivery
from permissions.models import Role
from project.events.models import OutboxEvent
from users.models import User


def test_without_service_databases_everything_is_in_default():
    for model in (User, Session, Role, Delivery, OutboxEvent):
        assert router.db_for_read(model) == "default"
        assert router.db_for_write(model) == "default"


def test_a_service_with_its_own_database_gets_its_models_and_nothing_else(monkeypatch):
    # The router reads the aliases settings declares; no connection is opened here.
    monkeypatch.setitem(settings.DATABASES, "permissions", {**settings.DATABASES["default"], "NAME": "elsewhere"})
    assert router.db_for_write(Role) == "permissions"
    assert router.db_for_read(Role) == "permissions"
    # The outbox of whoever hosts a service is its `default`; other services stay there too.
    for model in (User, Session, Delivery, OutboxEvent):
        assert router.db_for_write(model) == "default"
