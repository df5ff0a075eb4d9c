"""The front door: `permission_service` answers with the interface's data objects."""

import pytest

from permissions.interface import (
    ADMIN_ROLE,
    Assignment,
    AssignmentPage,
    AuditPage,
    Explanation,
    Group,
    Role,
    RoleNotFound,
    permission_service,
)
from tests.support.rbac import new_user

pytestmark = pytest.mark.django_db


def test_the_service_round_trips_roles_groups_assignments_checks_and_the_audit(codes):
    admin = permission_service.get_role_by_name(name=ADMIN_ROLE)
    assert isinstance(admin, Role) and admin.is_system and admin.grants_all
    assert set(codes) <= set(admin.permissions)
    reader = permission_service.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    editor = permission_service.create_role(
        actor_id=None, name="editor", permissions=["docs.page.write"], parents=[reader.id]
    )
    assert (editor.permissions, editor.parents) == (("docs.page.write",), (reader.id,))
    assert permission_service.get_role(role_id=editor.id) == editor
    assert [r.name for r in permission_service.list_roles()] == [
        "admin",
        "editor",
        "org_admin",
        "org_member",
        "org_owner",
        "reader",
    ]

    group = permission_service.create_group(actor_id=None, name="staff")
    assert isinstance(group, Group) and permission_service.list_groups() == [group]
    user = new_user()
    permission_service.add_group_member(actor_id=None, group_id=group.id, user_id=user)
    assert permission_service.group_members(group_id=group.id) == [user]
    assignment = permission_service.grant_role(actor_id=None, role_id=editor.id, group_id=group.id, scope="org:acme")
    assert isinstance(assignment, Assignment)
    assert (assignment.role_name, assignment.group_id, assignment.user_id, assignment.scope) == (
        "editor",
        group.id,
        None,
        "org:acme",
    )
    assert permission_service.list_assignments(group_id=group.id) == AssignmentPage(results=(assignment,), next=None)

    assert permission_service.check(user_id=user, permission="docs.page.read", scope="org:acme/p:1")
    assert permission_service.check_many(
        user_id=user, checks=[("docs.page.read", None), ("docs.page.write", "org:acme")]
    ) == [False, True]
    assert permission_service.effective_permissions(user_id=user, scope="org:acme") == {
        "docs.page.read",
        "docs.page.write",
    }
    assert permission_service.users_with_permission(permission="docs.page.read", scope="org:acme") == [user]
    why = permission_service.explain(user_id=user, permission="docs.page.read", scope="org:acme")
    assert isinstance(why, Explanation) and why.role_chain == ("editor", "reader")

    permission_service.revoke_assignment(actor_id=None, assignment_id=assignment.id)
    assert not permission_service.check(user_id=user, permission="docs.page.read", scope="org:acme")
    permission_service.delete_role(actor_id=None, role_id=editor.id)
    with pytest.raises(RoleNotFound):
        permission_service.get_role(role_id=editor.id)
    page = permission_service.list_audit(limit=2)
    assert isinstance(page, AuditPage) and len(page.results) == 2 and page.next
    assert page.results[0].action == "role.deleted"
    assert {p.code for p in permission_service.list_permissions()} >= {"rbac.role.manage", "users.user.view"}
    codes = ["nope.a.b", "users.user.view", "nope.a.b", "rbac.role.manage", "nope.c.d"]
    assert permission_service.undeclared_permissions(codes=codes) == ["nope.a.b", "nope.c.d"]
    assert permission_service.undeclared_permissions(codes=[]) == []
