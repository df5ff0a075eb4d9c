"""Two processes, one Redis: once a revoke has returned here, the other process denies at once,
though it had the grant warm in its own memory and in the shared cache."""

import uuid

import pytest

from permissions.core import selectors, services
from permissions.models import Assignment
from tests.support.children import LineChild
from tests.support.factories import UserFactory
from tests.support.rbac import new_user

from .conftest import grant, role

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

CHECKER = """
import sys, uuid
import django
django.setup()
from permissions.interface import permission_service
for line in sys.stdin:
    user, permission, scope = line.split()
    answer = permission_service.check(user_id=uuid.UUID(user), permission=permission, scope=None if scope == "-" else scope)
    print("yes" if answer else "no", flush=True)
"""


class Checker(LineChild):
    """Another process with its own in-process layer, asking the same shared cache."""

    def __init__(self):
        super().__init__(CHECKER)

    def check(self, user_id: uuid.UUID, permission: str, scope: str | None = None) -> bool:
        line = self.ask(f"{user_id} {permission} {scope or '-'}")
        assert line in (["yes"], ["no"]), line
        return line == ["yes"]


@pytest.fixture
def checker():
    process = Checker()
    yield process
    process.stop()


def test_after_each_revoke_the_other_process_denies_at_once(codes, checker):
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    group = services.create_group(actor_id=None, name="staff")
    for _ in range(5):
        assignment = grant(reader, user_id=user, scope="org:acme")
        assert checker.check(user, "docs.page.read", "org:acme/p:1")
        assert checker.check(user, "docs.page.read", "org:acme/p:1")  # warm in its memory
        services.revoke_assignment(actor_id=None, assignment_id=assignment.id)
        assert not checker.check(user, "docs.page.read", "org:acme/p:1")

        grant(reader, group=group)
        services.add_group_member(actor_id=None, group_id=group.id, user_id=user)
        assert checker.check(user, "docs.page.read")
        services.remove_group_member(actor_id=None, group_id=group.id, user_id=user)
        assert not checker.check(user, "docs.page.read")

        services.add_group_member(actor_id=None, group_id=group.id, user_id=user)
        assert checker.check(user, "docs.page.read")
        services.update_role(actor_id=None, role_id=reader.id, permissions=[])
        assert not checker.check(user, "docs.page.read")
        services.update_role(actor_id=None, role_id=reader.id, permissions=["docs.page.read"])
        assert checker.check(user, "docs.page.read")
        services.remove_group_member(actor_id=None, group_id=group.id, user_id=user)
        for assignment in Assignment.objects.filter(group=group):
            services.revoke_assignment(actor_id=None, assignment_id=assignment.id)


# --- users.user_deactivated through RabbitMQ and a worker ----------------------------------------


@pytest.fixture
def permissions_worker(broker, tmp_path):
    from tests.support.processes import celery_worker

    worker = celery_worker(broker, "permissions", log_dir=tmp_path, name="rbac", GATEHOUSE_OUTBOX_SWEEP_AGE="0")
    yield worker
    worker.stop(timeout=10)


def test_a_deactivation_reaches_the_worker_and_every_process_denies(codes, checker, permissions_worker):
    from permissions.models import DeactivatedUser
    from tests.support.broker import wait_for
    from users.interface import user_service

    ada = UserFactory(email="ada@example.com")
    grant(role("reader", ["docs.page.read"]), user_id=ada.id)
    assert checker.check(ada.id, "docs.page.read")

    user_service.deactivate_user(user_id=ada.id)  # users.user_deactivated → RabbitMQ → the worker

    wait_for(lambda: DeactivatedUser.objects.filter(user_id=ada.id).exists(), what="the permissions consumer")
    assert not checker.check(ada.id, "docs.page.read")
    assert not selectors.check(user_id=ada.id, permission="docs.page.read")  # this process too
