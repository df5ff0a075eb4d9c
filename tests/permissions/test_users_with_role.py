"""permission_service.users_with_role: the holders of one role in a scope (notifications' recipients)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from permissions.core.services import user_deactivation_record
from permissions.interface import InvalidScope, RoleNotFound, permission_service
from permissions.models import Assignment
from tests.support.rbac import new_user

pytestmark = pytest.mark.django_db


def test_holders_are_direct_and_group_assignees_whose_assignment_covers_the_scope(codes):
    reader = permission_service.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    editor = permission_service.create_role(
        actor_id=None, name="editor", permissions=["docs.page.write"], parents=[reader.id]
    )
    direct, member, elsewhere, expired, child_role_holder, deactivated = (new_user() for _ in range(6))
    group = permission_service.create_group(actor_id=None, name="staff")
    permission_service.add_group_member(actor_id=None, group_id=group.id, user_id=member)
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=direct, scope="org:acme")
    permission_service.grant_role(actor_id=None, role_id=reader.id, group_id=group.id)
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=elsewhere, scope="org:other")
    lapsed = permission_service.grant_role(
        actor_id=None, role_id=reader.id, user_id=expired, expires_at=timezone.now() + timedelta(minutes=1)
    )
    Assignment.objects.filter(id=lapsed.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    permission_service.grant_role(actor_id=None, role_id=editor.id, user_id=child_role_holder)
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=deactivated)
    user_deactivation_record(user_id=deactivated)

    assert permission_service.users_with_role(role_id=reader.id, scope="org:acme/project:1") == sorted([direct, member])
    assert permission_service.users_with_role(role_id=reader.id) == [member]
    assert permission_service.users_with_role(role_id=editor.id, scope="org:acme") == [child_role_holder]


def test_an_unknown_role_or_a_bad_scope_is_refused(codes):
    with pytest.raises(RoleNotFound):
        permission_service.users_with_role(role_id=uuid.uuid4())
    reader = permission_service.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    with pytest.raises(InvalidScope):
        permission_service.users_with_role(role_id=reader.id, scope="not a scope")
