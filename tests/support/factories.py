"""factory_boy factories for what tests start from: users, permissions, roles, groups, assignments
and signed-in sessions. Each is made through its service's public interface, so a test gets what
the service makes (rows, events, audit, cache invalidation), never a row written around it.

    ada = UserFactory(email="ada@example.com")        # verified, signs in with PASSWORD
    root = UserFactory(roles=[ADMIN_ROLE])            # granted globally, as the system
    reader = RoleFactory(permissions=["docs.page.read"])
    AssignmentFactory(role=reader, user_id=ada.id, scope="org:acme")
    pair = SessionFactory(user=ada)                   # a TokenPair, as POST /auth/token opens one
"""

from __future__ import annotations

import uuid

import factory

from auth.interface import ClientInfo, TokenPair, auth_service
from permissions.interface import Assignment, Group, Role, permission_service
from permissions.models import Permission
from users.interface import User, user_service

PASSWORD = "a-Long-unguessable-passphrase-42"


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


class UserFactory(factory.Factory):
    """A user who can sign in: verified, with PASSWORD (`password=None` makes one who cannot).
    `roles` names roles granted to the user globally, as the system."""

    class Meta:
        model = User

    email = factory.LazyFunction(_email)
    password = PASSWORD
    is_verified = True

    @classmethod
    def _create(cls, model_class, **fields):
        return user_service.create_user(**fields)

    @factory.post_generation
    def roles(user, create, names, **kwargs):
        for name in names or ():
            role_id = permission_service.get_role_by_name(name=name).id
            permission_service.grant_role(actor_id=None, role_id=role_id, user_id=user.id)


class PermissionFactory(factory.django.DjangoModelFactory):
    """A permission code straight into the synced table: the registry that owns it is code
    (`manage.py rbac sync`), not a service call."""

    class Meta:
        model = Permission

    code = factory.Sequence(lambda n: f"tests.thing{n}.read")
    description = factory.SelfAttribute("code")


class RoleFactory(factory.Factory):
    """A role created by `actor_id` (None: the system), with `permissions` (codes) and `parents`
    (role ids)."""

    class Meta:
        model = Role

    actor_id = None
    name = factory.Sequence(lambda n: f"role-{n}")
    permissions = factory.List([])
    parents = factory.List([])

    @classmethod
    def _create(cls, model_class, **fields):
        return permission_service.create_role(**fields)


class GroupFactory(factory.Factory):
    """A group created by `actor_id` (None: the system); `members` are user ids put in it."""

    class Meta:
        model = Group

    actor_id = None
    name = factory.Sequence(lambda n: f"group-{n}")

    @classmethod
    def _create(cls, model_class, **fields):
        return permission_service.create_group(**fields)

    @factory.post_generation
    def members(group, create, user_ids, **kwargs):
        for user_id in user_ids or ():
            permission_service.add_group_member(actor_id=None, group_id=group.id, user_id=user_id)


class AssignmentFactory(factory.Factory):
    """`role` granted by `actor_id` (None: the system) to `user_id`, or to `group_id` when given
    (a new user when neither is)."""

    class Meta:
        model = Assignment

    actor_id = None
    role = factory.SubFactory(RoleFactory)
    group_id = None
    user_id = factory.LazyAttribute(lambda grant: None if grant.group_id else UserFactory().id)
    scope = None
    expires_at = None

    @classmethod
    def _create(cls, model_class, *, role, **fields):
        return permission_service.grant_role(role_id=role.id, **fields)


class SessionFactory(factory.Factory):
    """A new session's first token pair, opened through the auth service with the user's password,
    as POST /api/v1/auth/token opens one."""

    class Meta:
        model = TokenPair

    user = factory.SubFactory(UserFactory)
    password = PASSWORD
    client = ClientInfo(ip="127.0.0.1")

    @classmethod
    def _create(cls, model_class, *, user, **fields):
        return auth_service.login(email=user.email, **fields)
