"""`manage.py seed_demo` (docs/operations.md, Commands, issue 16 item 8): a demo world made through the services'
interfaces. A second run changes nothing and says so; the demo users sign in and hold the roles
the seed gives them, as the RBAC service answers."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from notifications.interface import notification_service
from permissions.interface import permission_service
from tests.auth.conftest import api  # noqa: F401 - api: fixture
from tests.support.http import login
from users.interface import user_service

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "demo-Long-passphrase-for-tests-31"
USERS = 30


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def pages(fetch) -> list:
    results, cursor = [], None
    while True:
        page = fetch(cursor)
        results += page.results
        if not page.next:
            return results
        cursor = page.next


def world() -> dict:
    """Everything the seed touches, counted through the services."""
    users = pages(lambda c: user_service.list_users(search="@example.com", limit=200, cursor=c))
    demo_roles = [r for r in permission_service.list_roles() if r.name.startswith("demo-")]
    groups = [g for g in permission_service.list_groups() if g.name.startswith("demo-")]
    return {
        "users": len(users),
        "roles": len(demo_roles),
        "groups": len(groups),
        "members": sum(len(permission_service.group_members(group_id=g.id)) for g in groups),
        "assignments": sum(
            len(pages(lambda c, r=r: permission_service.list_assignments(role_id=r.id, limit=200, cursor=c)))
            for r in demo_roles
        ),
        "audit": len(pages(lambda c: permission_service.list_audit(limit=200, cursor=c))),
        "inbox": sum(notification_service.count_unread(user_id=u.id) for u in users),
    }


@pytest.fixture
def seeded(in_process_tasks):
    output = seed("--users", str(USERS), "--password", PASSWORD)
    return output


def user(n: int):
    return user_service.get_user_by_email(email=f"demo{n}@example.com")


def test_a_second_run_changes_nothing_and_says_so(seeded):
    first = world()
    assert first["users"] == USERS and first["roles"] == 3 and first["groups"] == 3
    assert first["members"] == USERS
    assert first["inbox"] >= USERS  # the announcement (and each user's welcome) in every inbox
    output = seed("--users", str(USERS), "--password", PASSWORD)
    assert "Nothing to do" in output
    assert re.search(r"users\s+0 created\s+30 existing", output)
    assert world() == first


def test_a_larger_size_adds_only_what_is_missing(seeded):
    before = world()
    output = seed("--users", str(USERS + 5), "--password", PASSWORD)
    assert re.search(r"users\s+5 created\s+30 existing", output)
    after = world()
    assert (after["users"], after["members"], after["groups"]) == (USERS + 5, USERS + 5, 3)
    assert after["assignments"] == before["assignments"] + 1  # demo31: demo-manager in org:demo
    assert seed("--users", str(USERS + 5), "--password", PASSWORD).startswith("Nothing to do")


def test_the_demo_users_sign_in_and_hold_the_roles_the_seed_gives(seeded, api):  # noqa: F811
    assert login(api, "demo1@example.com", PASSWORD).status_code == 200
    assert login(api, "demo30@example.com", PASSWORD).status_code == 200
    check = permission_service.check
    # demo1: demo-manager globally, and what it inherits from demo-editor and demo-viewer.
    demo1 = user(1).id
    assert user(1).is_verified
    assert check(user_id=demo1, permission="users.user.manage", scope="org:other")
    assert check(user_id=demo1, permission="rbac.group.manage")  # from demo-editor
    assert check(user_id=demo1, permission="rbac.role.view")  # from demo-viewer, two levels up
    assert not check(user_id=demo1, permission="oidc.client.manage")  # no demo role holds it
    # demo11: demo-manager in org:demo only.
    demo11 = user(11).id
    assert check(user_id=demo11, permission="users.user.manage", scope="org:demo/project:7")
    assert not check(user_id=demo11, permission="users.user.manage")
    # demo6: demo-editor globally, until an expiry 30 days away.
    demo6 = user(6).id
    assert check(user_id=demo6, permission="notifications.notification.send")
    [direct] = [a for a in permission_service.list_assignments(user_id=demo6).results if a.scope is None]
    assert direct.role_name == "demo-editor" and direct.expires_at is not None
    # demo2 (team support, the second): viewer globally, editor in its project's scope only.
    demo2 = user(2).id
    assert check(user_id=demo2, permission="users.user.view")
    assert check(user_id=demo2, permission="rbac.group.manage", scope="org:demo/project:2/env:prod")
    assert not check(user_id=demo2, permission="rbac.group.manage", scope="org:demo/project:1")
    assert not check(user_id=demo2, permission="users.user.manage", scope="org:demo")
    # The announcement is in the inbox.
    subjects = [m.subject for m in notification_service.list_inbox(user_id=demo2).results]
    assert "Welcome to the Gatehouse demo" in subjects


def test_without_a_password_flag_a_random_one_is_printed_once_and_works(in_process_tasks, api):  # noqa: F811
    output = seed("--users", "2")
    [password] = re.findall(r"\(shown once\): (\S+)", output)
    assert len(password) >= 16
    assert login(api, "demo2@example.com", password).status_code == 200
    again = seed("--users", "2")
    assert "shown once" not in again and password not in again


def test_a_bad_size_or_password_is_an_error():
    with pytest.raises(CommandError, match="--users"):
        seed("--users", "0")
    with pytest.raises(CommandError, match="password"):
        seed("--users", "1", "--password", "short")
    assert user_service.list_users(search="demo").results == ()


def seed_with_progress(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def org_world() -> dict:
    """Each demo org: its members' (email, role) and its pending invitations, through the org service."""
    from users.interface.orgs import org_service

    demo1 = user(1).id
    found = {}
    for membership in org_service.list_orgs(user_id=demo1, limit=200).results:
        org = membership.org
        members = pages(lambda c, o=org: org_service.list_members(actor_id=None, org_id=o.id, limit=200, cursor=c))
        invitations = pages(
            lambda c, o=org: org_service.list_invitations(actor_id=None, org_id=o.id, limit=200, cursor=c)
        )
        found[org.slug] = {
            "members": sorted((m.email, m.role) for m in members),
            "invitations": sorted((i.email, i.role) for i in invitations if i.status == "pending"),
        }
    return found


def test_the_seed_makes_two_orgs_with_roles_and_a_pending_invitation_once(in_process_tasks, api):  # noqa: F811
    from django.core import mail

    _, progress = seed_with_progress("--users", "10", "--password", PASSWORD, "--no-progress")
    orgs = org_world()

    assert set(orgs) == {"demo-acme", "demo-globex"}
    assert orgs["demo-acme"]["members"] == sorted(
        [
            ("demo1@example.com", "owner"),
            ("demo2@example.com", "admin"),
            ("demo3@example.com", "member"),
            ("demo4@example.com", "member"),
            ("demo5@example.com", "member"),
        ]
    )
    assert ("demo1@example.com", "owner") in orgs["demo-globex"]["members"]
    assert ("demo4@example.com", "admin") in orgs["demo-globex"]["members"]
    assert len(orgs["demo-globex"]["members"]) == 5
    assert orgs["demo-globex"]["invitations"] == [("invitee@demo.example.com", "member")]
    assert orgs["demo-acme"]["invitations"] == []
    assert [m.to for m in mail.outbox if "Globex" in m.subject] == [["invitee@demo.example.com"]]
    assert "org demo-acme: 5 members (4 added), no invitation" in progress
    assert "org demo-globex: 5 members (4 added), 1 invitation sent" in progress
    # The org roles are real: demo2 administers Acme, demo3 only belongs to it.
    from users.interface.orgs import org_service

    acme = next(m.org for m in org_service.list_orgs(user_id=user(2).id).results)
    scope = f"org:{acme.id}"
    assert permission_service.check(user_id=user(2).id, permission="orgs.member.manage", scope=scope)
    assert not permission_service.check(user_id=user(3).id, permission="orgs.member.manage", scope=scope)

    mail.outbox.clear()
    output, progress = seed_with_progress("--users", "10", "--password", PASSWORD, "--no-progress")

    assert output.startswith("Nothing to do")
    assert re.search(r"orgs\s+0 created\s+2 existing", output)
    assert re.search(r"invitations\s+0 created\s+1 existing", output)
    assert "org demo-globex: 5 members (0 added), invitation pending" in progress
    assert org_world() == orgs
    assert mail.outbox == []


def test_a_small_world_gets_the_orgs_with_the_users_it_has(in_process_tasks):
    seed("--users", "2", "--password", PASSWORD)

    orgs = org_world()

    assert orgs["demo-acme"]["members"] == [("demo1@example.com", "owner"), ("demo2@example.com", "admin")]
    assert orgs["demo-globex"]["members"] == [("demo1@example.com", "owner")]
