"""Two processes, one Redis: once a revoke has returned here, the other process denies at once,
though it had the grant warm in its own memory and in the shared cache."""

import subprocess
import sys
import uuid

import pytest

from permissions.core import services
from permissions.models import Assignment
from tests.support.processes import ROOT, subprocess_env

from .conftest import grant, new_user, role

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


class Checker:
    """Another process with its own in-process layer, asking the same shared cache."""

    def __init__(self):
        self.popen = subprocess.Popen(
            [sys.executable, "-c", CHECKER],
            cwd=ROOT,
            env=subprocess_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def check(self, user_id: uuid.UUID, permission: str, scope: str | None = None) -> bool:
        self.popen.stdin.write(f"{user_id} {permission} {scope or '-'}\n")
        self.popen.stdin.flush()
        line = self.popen.stdout.readline().strip()
        assert line in ("yes", "no"), line
        return line == "yes"

    def stop(self):
        self.popen.stdin.close()
        self.popen.wait(timeout=10)


@pytest.fixture
def checker():
    process = Checker()
    yield process
    process.stop()


def test_after_each_revoke_the_other_process_denies_at_once(codes, checker):
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    group = services.group_create(actor_id=None, name="staff")
    for _ in range(5):
        assignment = grant(reader, user_id=user, scope="org:acme")
        assert checker.check(user, "docs.page.read", "org:acme/p:1")
        assert checker.check(user, "docs.page.read", "org:acme/p:1")  # warm in its memory
        services.assignment_revoke(actor_id=None, assignment_id=assignment.id)
        assert not checker.check(user, "docs.page.read", "org:acme/p:1")

        grant(reader, group=group)
        services.group_member_add(actor_id=None, group_id=group.id, user_id=user)
        assert checker.check(user, "docs.page.read")
        services.group_member_remove(actor_id=None, group_id=group.id, user_id=user)
        assert not checker.check(user, "docs.page.read")

        services.group_member_add(actor_id=None, group_id=group.id, user_id=user)
        assert checker.check(user, "docs.page.read")
        services.role_update(actor_id=None, role_id=reader.id, permissions=[])
        assert not checker.check(user, "docs.page.read")
        services.role_update(actor_id=None, role_id=reader.id, permissions=["docs.page.read"])
        assert checker.check(user, "docs.page.read")
        services.group_member_remove(actor_id=None, group_id=group.id, user_id=user)
        for assignment in Assignment.objects.filter(group=group):
            services.assignment_revoke(actor_id=None, assignment_id=assignment.id)
