"""Access control: one declarative matrix (principal, action → allow/deny) run through the REST
API, the in-process permission engine and the gRPC PermissionService, which must all agree with
the matrix; every `{id}` route tried on another user's objects; and "my permissions" against
every single check over random grants (hypothesis)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from auth.interface import auth_service
from notifications.interface import notification_service
from permissions.interface import ADMIN_ROLE, permission_service
from permissions.rpc.client import GrpcPermissionService
from project.celery import app as celery_app
from project.events.relay import relay_all
from tests.rpc.servers import start_grpcserve
from tests.support.factories import GroupFactory
from tests.support.rbac import grant_role
from users.interface import user_service

from .conftest import access_token_for, new_user

# --- the matrix ------------------------------------------------------------------------------------

ROLES = {
    "viewer": ["users.user.view"],
    "user-manager": ["users.user.view", "users.user.manage"],
    "rbac-reader": ["rbac.role.view"],
    "auditor": ["rbac.audit.view"],
    "checker": ["rbac.check.any"],
    "group-manager": ["rbac.group.manage"],
    "assignment-manager": ["rbac.assignment.manage"],
    "nothing": [],
}

# Who holds what: (role, scope) pairs.
PRINCIPALS = {
    "nobody": [],
    "viewer": [("viewer", None)],
    "user-manager": [("user-manager", None)],
    "rbac-reader": [("rbac-reader", None)],
    "auditor": [("auditor", None)],
    "checker": [("checker", None)],
    "group-manager": [("group-manager", None)],
    "acme-manager": [("assignment-manager", "org:acme")],
    "project-manager": [("assignment-manager", "org:acme/project:1")],
    "global-manager": [("assignment-manager", None)],
    "admin": [(ADMIN_ROLE, None)],
}

# action → (permission it needs, the scope it needs it in)
ACTIONS = {
    "list users": ("users.user.view", None),
    "read a user": ("users.user.view", None),
    "update a user": ("users.user.manage", None),
    "list roles": ("rbac.role.view", None),
    "create a role": ("rbac.role.manage", None),
    "read the audit log": ("rbac.audit.view", None),
    "check for another user": ("rbac.check.any", None),
    "explain for another user": ("rbac.check.any", None),
    "read another user's permissions": ("rbac.check.any", None),
    "create a group": ("rbac.group.manage", None),
    "grant in org:acme/project:1": ("rbac.assignment.manage", "org:acme/project:1"),
    "grant in org:acme": ("rbac.assignment.manage", "org:acme"),
    "grant in org:other": ("rbac.assignment.manage", "org:other"),
    "grant globally": ("rbac.assignment.manage", None),
}

# The expected answers, written out (not derived): everything not listed is denied.
ALLOWED = {
    "viewer": {"list users", "read a user"},
    "user-manager": {"list users", "read a user", "update a user"},
    "rbac-reader": {"list roles"},
    "auditor": {"read the audit log"},
    "checker": {"check for another user", "explain for another user", "read another user's permissions"},
    "group-manager": {"create a group"},
    "acme-manager": {"grant in org:acme/project:1", "grant in org:acme"},
    "project-manager": {"grant in org:acme/project:1"},
    "global-manager": {"grant in org:acme/project:1", "grant in org:acme", "grant in org:other", "grant globally"},
    "admin": set(ACTIONS),
}


def expected(principal: str, action: str) -> bool:
    return action in ALLOWED.get(principal, set())


def perform(client: APIClient, action: str, *, target: uuid.UUID, nothing_role: uuid.UUID):
    """The REST call that does `action` (writes are harmless: an empty role, a fresh name)."""
    unique = uuid.uuid4().hex[:8]
    grant = {"role": str(nothing_role), "user_id": str(target)}
    calls = {
        "list users": lambda: client.get("/api/v1/users"),
        "read a user": lambda: client.get(f"/api/v1/users/{target}"),
        "update a user": lambda: client.patch(f"/api/v1/users/{target}", {"display_name": unique}, format="json"),
        "list roles": lambda: client.get("/api/v1/rbac/roles"),
        "create a role": lambda: client.post("/api/v1/rbac/roles", {"name": f"r-{unique}"}, format="json"),
        "read the audit log": lambda: client.get("/api/v1/rbac/audit"),
        "check for another user": lambda: client.post(
            "/api/v1/rbac/check", {"permission": "users.user.view", "user_id": str(target)}, format="json"
        ),
        "explain for another user": lambda: client.post(
            "/api/v1/rbac/explain", {"permission": "users.user.view", "user_id": str(target)}, format="json"
        ),
        "read another user's permissions": lambda: client.get(f"/api/v1/rbac/users/{target}/permissions"),
        "create a group": lambda: client.post("/api/v1/rbac/groups", {"name": f"g-{unique}"}, format="json"),
        "grant in org:acme/project:1": lambda: client.post(
            "/api/v1/rbac/assignments", grant | {"scope": "org:acme/project:1"}, format="json"
        ),
        "grant in org:acme": lambda: client.post(
            "/api/v1/rbac/assignments", grant | {"scope": "org:acme"}, format="json"
        ),
        "grant in org:other": lambda: client.post(
            "/api/v1/rbac/assignments", grant | {"scope": "org:other"}, format="json"
        ),
        "grant globally": lambda: client.post("/api/v1/rbac/assignments", grant, format="json"),
    }
    return calls[action]()


@pytest.fixture
def world(transactional_db):
    """The matrix's roles and principals, committed (the gRPC server is another process)."""
    role_ids = {}
    for name, codes in ROLES.items():
        role_ids[name] = permission_service.create_role(actor_id=None, name=name, permissions=codes).id
    users = {}
    for principal, holdings in PRINCIPALS.items():
        users[principal] = new_user(email=f"{principal}@example.com")
        for role, scope in holdings:
            grant_role(users[principal].id, role, scope=scope)
    target = new_user(email="target@example.com")
    return {"roles": role_ids, "users": users, "target": target}


def test_the_rest_api_and_the_engine_answer_as_the_matrix_says(world, tally):
    mismatches = []
    for principal, user in world["users"].items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
        for action, (permission, scope) in ACTIONS.items():
            want = expected(principal, action)
            engine = permission_service.check(user_id=user.id, permission=permission, scope=scope)
            response = perform(client, action, target=world["target"].id, nothing_role=world["roles"]["nothing"])
            rest = 200 <= response.status_code < 300
            if response.status_code not in (200, 201, 204, 403):
                mismatches.append((principal, action, "status", response.status_code, response.content[:200]))
            if not rest and response.json()["error"]["code"] not in ("permission_denied", "escalation_denied"):
                mismatches.append((principal, action, "code", response.json()["error"]["code"]))
            ok = rest == want and engine == want
            tally.record(ok, response.status_code)
            if not ok:
                mismatches.append((principal, action, f"want {want}, REST {rest}, engine {engine}"))
    print(f"matrix: {len(PRINCIPALS)} principals x {len(ACTIONS)} actions")
    assert not mismatches, mismatches
    assert tally.made == len(PRINCIPALS) * len(ACTIONS)


def test_the_grpc_permission_service_answers_as_the_matrix_says(world, tmp_path, tally):
    server = start_grpcserve(tmp_path, "permissions", name="permissions-matrix")
    try:
        remote = GrpcPermissionService(target=server.target)
        mismatches = []
        for principal, user in world["users"].items():
            for action, (permission, scope) in ACTIONS.items():
                answer = remote.check(user_id=user.id, permission=permission, scope=scope)
                ok = answer == expected(principal, action)
                tally.record(ok)
                if not ok:
                    mismatches.append((principal, action, answer))
            # The batch form answers the same, in order.
            checks = [(permission, scope) for permission, scope in ACTIONS.values()]
            batch = remote.check_many(user_id=user.id, checks=checks)
            tally.record(batch == [expected(principal, action) for action in ACTIONS])
            assert batch == [expected(principal, action) for action in ACTIONS], principal
    finally:
        server.process.stop()
    assert not mismatches, mismatches


# --- another user's objects --------------------------------------------------------------------------


def test_every_id_route_on_another_users_objects_is_refused_and_changes_nothing(transactional_db, settings, tally):
    settings.CELERY_BROKER_URL = ""  # deliver in this process, in both modes (no worker here)
    eager, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    try:
        _try_another_users_objects(tally)
    finally:
        celery_app.conf.task_always_eager = eager


def _try_another_users_objects(tally):
    mallory, victim = new_user(), new_user()
    victim_token = access_token_for(victim)
    victim_sid = next(s.id for s in auth_service.list_sessions(user_id=victim.id))
    notification_service.send_notification(
        type="announcement", context={"subject": "s", "body": "b"}, user_ids=[victim.id]
    )
    while relay_all():
        pass
    inbox = notification_service.list_inbox(user_id=victim.id)
    assert inbox.results, "the victim's message was not delivered"
    message = inbox.results[0]
    before = user_service.get_user(user_id=victim.id)
    # The victim's RBAC objects: a role granted to them, a group they are in.
    role = permission_service.create_role(actor_id=None, name="victims-role", permissions=["users.user.view"])
    assignment = permission_service.grant_role(actor_id=None, role_id=role.id, user_id=victim.id)
    group = GroupFactory(name="victims-group", members=[victim.id])
    while relay_all():  # the notices those send
        pass
    unread_before = notification_service.count_unread(user_id=victim.id)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(mallory)}")
    attempts = [
        ("delete", f"/api/v1/auth/sessions/{victim_sid}", None, {404}),
        ("get", f"/api/v1/users/{victim.id}", None, {403, 404}),
        ("patch", f"/api/v1/users/{victim.id}", {"display_name": "pwned", "is_active": False}, {403, 404}),
        ("delete", f"/api/v1/users/{victim.id}", None, {403, 404}),
        ("get", f"/api/v1/rbac/users/{victim.id}/permissions", None, {403, 404}),
        ("post", "/api/v1/rbac/check", {"permission": "users.user.view", "user_id": str(victim.id)}, {403}),
        ("post", "/api/v1/rbac/explain", {"permission": "users.user.view", "user_id": str(victim.id)}, {403}),
        ("post", f"/api/v1/notifications/{message.id}/read", None, {404}),
        ("get", f"/api/v1/notifications/deliveries/{message.notification_id}", None, {403, 404}),
        ("delete", f"/api/v1/rbac/assignments/{assignment.id}", None, {403, 404}),
        ("post", "/api/v1/rbac/assignments", {"role": str(role.id), "user_id": str(mallory.id)}, {403}),
        ("patch", f"/api/v1/rbac/roles/{role.id}", {"permissions": ["rbac.role.manage"]}, {403, 404}),
        ("delete", f"/api/v1/rbac/roles/{role.id}", None, {403, 404}),
        ("post", f"/api/v1/rbac/groups/{group.id}/members", {"user_id": str(mallory.id)}, {403, 404}),
        ("delete", f"/api/v1/rbac/groups/{group.id}/members", {"user_id": str(victim.id)}, {403, 404}),
    ]
    for method, path, body, refused in attempts:
        response = getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)
        tally.record(response.status_code in refused, response.status_code)
        assert response.status_code in refused, (method, path, response.status_code, response.content[:200])
        code = response.json()["error"]["code"]
        assert code == "permission_denied" or code.endswith("not_found"), response.content

    # Nothing changed for the victim.
    assert user_service.get_user(user_id=victim.id) == before
    assert auth_service.verify_access_token(token=victim_token).session_id == victim_sid
    assert notification_service.count_unread(user_id=victim.id) == unread_before
    assert permission_service.get_assignment(assignment_id=assignment.id).user_id == victim.id
    assert permission_service.get_role(role_id=role.id).permissions == ("users.user.view",)
    assert permission_service.group_members(group_id=group.id) == [victim.id]
    assert not permission_service.check(user_id=mallory.id, permission="users.user.view")
    # Mallory's own inbox does not show the victim's message.
    own = client.get("/api/v1/notifications").json()["results"]
    tally.record(all(item["id"] != str(message.id) for item in own), 200)
    assert all(item["id"] != str(message.id) for item in own)


# --- "my permissions" agrees with every check ------------------------------------------------------

SCOPES = [None, "org:acme", "org:acme/project:1", "org:acme/project:2", "org:other"]


@pytest.mark.django_db
def test_my_permissions_agree_with_every_single_check_over_random_grants(tally):
    codes = sorted(p.code for p in permission_service.list_permissions())
    pool = [
        permission_service.create_role(actor_id=None, name=f"pool-{i}", permissions=chosen).id
        for i, chosen in enumerate([codes[0:3], codes[3:6], codes[5:9], codes[9:], [codes[1], codes[-1]]])
    ]
    child = permission_service.create_role(actor_id=None, name="pool-child", permissions=[codes[4]], parents=[pool[0]])
    pool.append(child.id)
    group = permission_service.create_group(actor_id=None, name="pool-group")
    granted_answers = []

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        grants=st.lists(
            st.tuples(st.sampled_from(pool), st.sampled_from(SCOPES), st.booleans()), min_size=0, max_size=5
        ),
        asked=st.sampled_from(SCOPES),
    )
    def agree(grants, asked):
        user = new_user()
        permission_service.add_group_member(actor_id=None, group_id=group.id, user_id=user.id)
        created = []
        for role_id, scope, via_group in grants:
            if via_group:
                continue  # group grants are shared by every example: made below, once per example
            created.append(permission_service.grant_role(actor_id=None, role_id=role_id, user_id=user.id, scope=scope))
        group_grants = [
            permission_service.grant_role(actor_id=None, role_id=role_id, group_id=group.id, scope=scope)
            for role_id, scope, via_group in grants
            if via_group
        ]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
        query = f"?scope={asked}" if asked else ""
        mine = client.get(f"/api/v1/rbac/users/{user.id}/permissions{query}")
        tally.record(mine.status_code == 200, mine.status_code)
        held = set(mine.json()["permissions"])
        batch = client.post(
            "/api/v1/rbac/check",
            {"checks": [{"permission": code, "scope": asked} for code in codes]},
            format="json",
        )
        tally.record(batch.status_code == 200, batch.status_code)
        answers = batch.json()["results"]
        granted_answers.append(sum(answers))
        for code, allowed in zip(codes, answers, strict=True):
            assert (code in held) == allowed, (code, asked, grants)
            assert permission_service.check(user_id=user.id, permission=code, scope=asked) == allowed
        for assignment_id in {assignment.id for assignment in group_grants}:  # a repeated grant is one
            permission_service.revoke_assignment(actor_id=None, assignment_id=assignment_id)

    agree()
    assert tally.failed == 0
    print(
        f"examples {len(granted_answers)}, checks {len(granted_answers) * len(codes)}, allowed {sum(granted_answers)}"
    )
    assert sum(granted_answers) > 0 and min(granted_answers) == 0  # both answers were exercised
