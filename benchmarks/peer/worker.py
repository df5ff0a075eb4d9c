"""The peers' side of scenarios 1 and 2, in its own process (benchmarks.peer.settings): it builds
the same roles, users and scopes as Gatehouse's side, then answers the harness's requests one
JSON line at a time, so the rounds interleave with Gatehouse's across the two processes.

    {"op": "setup", "roles": 100, "perms_per_role": 10}   -> {"user_id": 1, "token": "…"}
    {"op": "measure", "what": "modelbackend", "n": 500}   -> {"seconds": 0.00012}  (per check)
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.peer.settings")

import django

django.setup()

from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from guardian.shortcuts import assign_perm  # noqa: E402

state: dict = {}


def setup(roles: int, perms_per_role: int) -> dict:
    """`roles` groups (a role each) holding `perms_per_role` permissions; user i is in role i,
    globally (ModelBackend) and on scope object `org:acme` (guardian). The measured user is 0,
    checking a permission of role 0."""
    call_command("migrate", verbosity=0)
    ct = ContentType.objects.get_for_model(Group)
    with transaction.atomic():
        scope = Group.objects.create(name="org:acme")
        perms = Permission.objects.bulk_create(
            [
                Permission(content_type=ct, codename=f"r{r}_p{p}", name=f"r{r} p{p}")
                for r in range(roles)
                for p in range(perms_per_role)
            ]
        )
        users = User.objects.bulk_create([User(username=f"user{i}", password="!") for i in range(roles)])
        for r in range(roles):
            role = Group.objects.create(name=f"role{r}")
            role.permissions.set(perms[r * perms_per_role : (r + 1) * perms_per_role])
            users[r].groups.add(role)
            for perm in perms[r * perms_per_role : (r + 1) * perms_per_role]:
                assign_perm(perm, role, scope)
    state.update(user_id=users[0].pk, scope=scope, perm="auth.r0_p0")
    from rest_framework_simplejwt.tokens import AccessToken

    return {"user_id": users[0].pk, "token": str(AccessToken.for_user(users[0]))}


def modelbackend() -> bool:
    # A request's view: a fresh user (the request's), then has_perm with ModelBackend's queries.
    user = User.objects.get(pk=state["user_id"])
    return user.has_perm(state["perm"])


def guardian() -> bool:
    user = User.objects.get(pk=state["user_id"])
    return user.has_perm(state["perm"], state["scope"])


MEASURES = {"modelbackend": modelbackend, "guardian": guardian}


def measure(what: str, n: int) -> dict:
    fn = MEASURES[what]
    assert fn(), f"{what} denies the permission it should grant"
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return {"seconds": (time.perf_counter() - started) / n}


def main() -> None:
    # Answers go to the real stdout; anything a library prints goes to stderr, not into the pipe.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        answer = setup(**request) if op == "setup" else measure(**request)
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
