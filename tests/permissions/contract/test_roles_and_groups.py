"""The registry, roles and groups: the same results in process and over gRPC."""

from __future__ import annotations

import uuid

import pytest

from permissions.interface import (
    ADMIN_ROLE,
    ORG_ROLES,
    Group,
    GroupNameTaken,
    GroupNotFound,
    InvalidRbacInput,
    Permission,
    Role,
    RoleNotFound,
)
from tests.support.rbac import new_user


def test_the_registry_is_every_declared_permission_sorted(perms, codes):
    registry = perms.list_permissions()
    assert all(isinstance(p, Permission) for p in registry)
    assert [p.code for p in registry] == sorted(p.code for p in registry)
    assert set(codes) | {"rbac.role.manage", "rbac.check.any"} <= {p.code for p in registry}


def test_a_role_is_created_read_listed_updated_and_deleted(perms):
    reader = perms.create_role(actor_id=None, name="reader", description="Reads pages.", permissions=["docs.page.read"])
    assert isinstance(reader, Role)
    assert (reader.name, reader.description, reader.permissions, reader.parents) == (
        "reader",
        "Reads pages.",
        ("docs.page.read",),
        (),
    )
    assert (reader.is_system, reader.grants_all) == (False, False)
    editor = perms.create_role(
        actor_id=None, name="editor", permissions=["docs.page.write", "docs.page.delete"], parents=[reader.id]
    )
    assert editor.permissions == ("docs.page.delete", "docs.page.write") and editor.parents == (reader.id,)
    assert perms.get_role(role_id=editor.id) == editor
    assert perms.get_role_by_name(name="editor") == editor
    assert [r.name for r in perms.list_roles()] == [ADMIN_ROLE, "editor", *sorted(ORG_ROLES), "reader"]

    # Unset fields stay; an empty list clears.
    renamed = perms.update_role(actor_id=None, role_id=editor.id, name="author")
    assert (renamed.name, renamed.permissions, renamed.parents) == ("author", editor.permissions, (reader.id,))
    cleared = perms.update_role(actor_id=None, role_id=editor.id, parents=[], description="Writes.")
    assert (cleared.parents, cleared.description, cleared.permissions) == ((), "Writes.", editor.permissions)
    emptied = perms.update_role(actor_id=None, role_id=editor.id, permissions=[])
    assert emptied.permissions == () and emptied.name == "author"

    perms.delete_role(actor_id=None, role_id=editor.id)
    with pytest.raises(RoleNotFound):
        perms.get_role(role_id=editor.id)


def test_the_admin_role_is_a_system_role_holding_everything(perms):
    admin = perms.get_role_by_name(name=ADMIN_ROLE)
    assert admin.is_system and admin.grants_all
    assert set(admin.permissions) == {p.code for p in perms.list_permissions()}


def test_a_group_is_renamed_keeping_its_members_and_audited(perms):
    staff = perms.create_group(actor_id=None, name="staff", description="Everyone.")
    perms.create_group(actor_id=None, name="ops")
    member = new_user()
    perms.add_group_member(actor_id=None, group_id=staff.id, user_id=member)

    renamed = perms.rename_group(actor_id=None, group_id=staff.id, name="people")
    assert renamed == Group(id=staff.id, name="people", description="Everyone.")
    assert perms.get_group(group_id=staff.id) == renamed
    assert perms.group_members(group_id=staff.id) == [member]
    entry = perms.list_audit().results[0]
    assert (entry.action, entry.before["name"], entry.after["name"]) == ("group.renamed", "staff", "people")

    with pytest.raises(GroupNameTaken):
        perms.rename_group(actor_id=None, group_id=staff.id, name="ops")
    with pytest.raises(InvalidRbacInput):
        perms.rename_group(actor_id=None, group_id=staff.id, name=" ")
    with pytest.raises(GroupNotFound):
        perms.rename_group(actor_id=None, group_id=uuid.uuid4(), name="x")
    assert perms.get_group(group_id=staff.id) == renamed


def test_a_group_is_created_filled_emptied_and_deleted(perms):
    staff = perms.create_group(actor_id=None, name="staff", description="Everyone.")
    assert isinstance(staff, Group) and (staff.name, staff.description) == ("staff", "Everyone.")
    ops = perms.create_group(actor_id=None, name="ops")
    assert perms.get_group(group_id=staff.id) == staff
    assert perms.list_groups() == [ops, staff]

    users = sorted(new_user() for _ in range(3))
    for user in [*users, users[0]]:  # adding twice is fine
        perms.add_group_member(actor_id=None, group_id=staff.id, user_id=user)
    assert perms.group_members(group_id=staff.id) == users
    perms.add_group_member(actor_id=None, group_id=ops.id, user_id=users[0])
    assert perms.user_groups(user_id=users[0]) == [ops, staff]
    assert perms.user_groups(user_id=users[1]) == [staff]
    assert perms.user_groups(user_id=uuid.uuid4()) == []
    perms.remove_group_member(actor_id=None, group_id=staff.id, user_id=users[1])
    perms.remove_group_member(actor_id=None, group_id=staff.id, user_id=users[1])  # and removing twice
    assert perms.group_members(group_id=staff.id) == [users[0], users[2]]

    perms.delete_group(actor_id=None, group_id=staff.id)
    assert perms.list_groups() == [ops]
    assert perms.user_groups(user_id=users[2]) == []
    with pytest.raises(GroupNotFound):
        perms.group_members(group_id=staff.id)
