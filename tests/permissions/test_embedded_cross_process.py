"""Issue 14 item 5: a revoke made in another process is seen at once. A real server process
(`manage.py runserver`) answers a check; `manage.py rbac revoke` — a second process on the same
database (one SQLite file embedded, PostgreSQL and Redis in stack mode) — revokes; the server's
very next answer is a deny. In embedded mode the version tokens lived in the server process's own
memory with no expiry, and it kept answering with the old grant for minutes."""

from __future__ import annotations

import subprocess

import pytest

from permissions.interface import permission_service
from tests.support.factories import UserFactory
from tests.support.http import call
from tests.support.processes import LISTEN_TIMEOUT, Process, free_port, manage, port_open, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple 42"
PERMISSION = "users.user.view"


@pytest.fixture
def server(transactional_db, tmp_path):
    port = free_port()
    args = manage("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks")
    process = Process("web", args, env=subprocess_env(), log_dir=tmp_path)
    try:
        process.wait_until(lambda: port_open(port), timeout=LISTEN_TIMEOUT, what="listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def test_a_revoke_by_another_process_is_seen_by_the_server_at_once(server):
    bob = UserFactory(email="bob@example.com", password=PASSWORD)
    role = permission_service.create_role(actor_id=None, name="viewer", permissions=[PERMISSION])
    assignment = permission_service.grant_role(actor_id=None, role_id=role.id, user_id=bob.id)
    status, tokens = call("POST", server + "/api/v1/auth/token", {"email": bob.email, "password": PASSWORD})
    assert status == 200, tokens
    for _ in range(3):  # warm whatever the server keeps
        assert call("POST", server + "/api/v1/rbac/check", {"permission": PERMISSION}, tokens["access_token"]) == (
            200,
            {"allowed": True},
        )
    revoke = subprocess.run(
        manage("rbac", "revoke", str(assignment.id)), env=subprocess_env(), capture_output=True, text=True, timeout=120
    )
    assert revoke.returncode == 0, revoke.stderr
    assert call("POST", server + "/api/v1/rbac/check", {"permission": PERMISSION}, tokens["access_token"]) == (
        200,
        {"allowed": False},
    )
