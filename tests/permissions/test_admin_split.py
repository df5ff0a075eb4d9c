"""Split mode: the admin names people through the users service over gRPC, in batches.

The users core service runs in a real `manage.py grpcserve users` process; this process's
`user_service` is its gRPC client, as USERS_GRPC_TARGET makes it. The server's own call counter
(its Prometheus metrics) says how many calls a page made.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from permissions.interface import ADMIN_ROLE
from permissions.models import Role
from project.kernel.delegation import provide, provided
from tests.rpc.servers import start_grpcserve
from tests.support.factories import UserFactory
from users.interface import SERVICE_NAME, UserService
from users.rpc.client import GrpcUserService

from .conftest import grant, role

pytestmark = pytest.mark.django_db(transaction=True)  # the server is another process: data must be committed


@pytest.fixture
def remote_users(transactional_db, django_db_blocker, tmp_path):
    with django_db_blocker.unblock():
        server = start_grpcserve(tmp_path, "users", name="users-rpc", metrics=True)
    installed = provided(SERVICE_NAME)
    provide(SERVICE_NAME, GrpcUserService(target=server.target), interface=UserService)
    try:
        yield server
    finally:
        provide(SERVICE_NAME, installed, interface=UserService)
        server.process.stop()


def calls(server) -> dict[str, int]:
    """UserService calls the server has answered so far, by method."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    counted: dict[str, int] = {}
    pattern = r'gatehouse_grpc_server_handled_total\{[^}]*grpc_method="(\w+)"[^}]*UserService"\} (\S+)'
    for method, value in re.findall(pattern, text):
        counted[method] = counted.get(method, 0) + int(float(value))
    return counted


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {method: n - before.get(method, 0) for method, n in after.items() if n != before.get(method, 0)}


def test_the_assignment_list_of_50_people_asks_the_users_service_once(client, remote_users, codes):
    from users.models import User

    assert isinstance(provided(SERVICE_NAME), GrpcUserService)
    staff = UserFactory(email="root@example.com", is_staff=True, roles=[ADMIN_ROLE])
    reader = role("reader", ["docs.page.read"])
    people = [UserFactory(email=f"user{n:02}@example.com") for n in range(50)]
    for person in people:
        grant(reader, user_id=person.id, actor_id=staff.id)
    client.force_login(User.objects.get(id=staff.id))

    before = calls(remote_users)
    listing = client.get("/admin/permissions/assignment/", {"role__id__exact": str(reader.id)})
    assert listing.status_code == 200
    content = listing.content.decode()
    assert all(person.email in content for person in people) and str(people[0].id) not in content
    assert difference(calls(remote_users), before) == {"GetUsers": 1}

    before = calls(remote_users)
    found = client.get("/admin/permissions/assignment/", {"q": "user07@example.com"})
    assert [a.user_id for a in found.context["cl"].result_list] == [people[7].id]
    assert difference(calls(remote_users), before) == {"ListUsers": 1, "GetUsers": 1}  # the search, the page


def test_the_audit_log_of_many_actors_asks_the_users_service_once(client, remote_users, codes):
    from users.models import User

    staff = UserFactory(email="root@example.com", is_staff=True, roles=[ADMIN_ROLE])
    actors = [UserFactory(email=f"actor{n:02}@example.com") for n in range(20)]
    for n, actor in enumerate(actors):
        grant(Role.objects.get(name="admin"), user_id=actor.id)  # each actor may grant
        grant(role(f"role{n}", ["docs.page.read"]), user_id=staff.id, actor_id=actor.id)
    client.force_login(User.objects.get(id=staff.id))

    before = calls(remote_users)
    listing = client.get("/admin/permissions/auditentry/")
    assert all(actor.email in listing.content.decode() for actor in actors)
    assert difference(calls(remote_users), before) == {"GetUsers": 1}
