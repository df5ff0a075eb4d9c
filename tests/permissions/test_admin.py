"""The Django admin writes through the services, as the signed-in user."""

import pytest

from permissions.core import selectors
from permissions.interface import ADMIN_ROLE
from permissions.models import Assignment, AuditEntry, Role
from tests.support.factories import UserFactory
from tests.support.rbac import new_user

from .conftest import grant, role

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    from users.models import User

    client.force_login(User.objects.get(id=user.id))
    return user


@pytest.fixture
def admin_staff(client, staff):
    """The signed-in staff user holding the admin role globally (so escalation allows anything)."""
    grant(Role.objects.get(name=ADMIN_ROLE), user_id=staff.id)
    return staff


def test_a_role_added_in_the_admin_is_audited_with_its_actor(client, admin_staff, codes):
    response = client.post(
        "/admin/permissions/role/add/",
        {"name": "reader", "description": "Reads.", "permissions": ["docs.page.read"], "parents": []},
    )
    assert response.status_code == 302, response.content[:2000]
    reader = Role.objects.get(name="reader")
    assert list(reader.permissions.values_list("code", flat=True)) == ["docs.page.read"]
    assert AuditEntry.objects.get(action="role.created").actor_id == admin_staff.id


def test_the_admin_refuses_escalation_like_the_api(client, staff, codes):
    grant(role("role-manager", ["rbac.role.manage", "rbac.role.view"]), user_id=staff.id)
    response = client.post("/admin/permissions/role/add/", {"name": "reader", "permissions": ["docs.page.read"]})
    assert response.status_code == 200
    assert b"escalation" in response.content or b"do not hold" in response.content
    assert not Role.objects.filter(name="reader").exists()


def test_revoking_from_the_admin_goes_through_the_service(client, admin_staff, codes):
    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user)
    response = client.post(
        "/admin/permissions/assignment/",
        {"action": "revoke", "_selected_action": [str(assignment.id)]},
    )
    assert response.status_code == 302
    assert not Assignment.objects.filter(id=assignment.id).exists()
    assert not selectors.check(user_id=user, permission="docs.page.read")
    assert AuditEntry.objects.get(action="assignment.revoked").actor_id == admin_staff.id


@pytest.mark.parametrize("model", ["role", "group", "assignment", "permission", "auditentry"])
def test_every_rbac_list_opens(client, admin_staff, codes, model):
    role("reader", ["docs.page.read"])
    assert client.get(f"/admin/permissions/{model}/").status_code == 200


def test_a_role_deleted_in_the_admin_goes_through_the_service(client, admin_staff, codes):
    reader = role("reader", ["docs.page.read"])
    response = client.post(f"/admin/permissions/role/{reader.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Role.objects.filter(name="reader").exists()
    assert AuditEntry.objects.get(action="role.deleted").actor_id == admin_staff.id


# --- Assignments: picked by email, granted through the service --------------------------------------


def _assignment_form(role_, **fields):
    return {"role": str(role_.id), "user_email": "", "group": "", "scope": "", **fields}


def test_an_assignment_added_in_the_admin_picks_the_user_by_email(client, admin_staff, codes):
    reader = role("reader", ["docs.page.read"])
    bob = UserFactory(email="bob@example.com")
    response = client.post(
        "/admin/permissions/assignment/add/",
        _assignment_form(reader, user_email="BOB@example.com", scope="/org:acme/"),
    )
    assert response.status_code == 302, response.content[:3000]
    assignment = Assignment.objects.get(role=reader)
    assert (assignment.user_id, assignment.group_id, assignment.scope) == (bob.id, None, "org:acme")
    assert selectors.check(user_id=bob.id, permission="docs.page.read", scope="org:acme/project:1")
    assert not selectors.check(user_id=bob.id, permission="docs.page.read", scope="org:other")
    entry = AuditEntry.objects.get(action="assignment.granted", target_id=str(assignment.id))
    assert entry.actor_id == admin_staff.id


def test_an_assignment_can_be_given_an_expiry(client, admin_staff, codes):
    reader = role("reader", ["docs.page.read"])
    bob = UserFactory(email="bob@example.com")
    response = client.post(
        "/admin/permissions/assignment/add/",
        _assignment_form(reader, user_email="bob@example.com", expires_at_0="2999-01-01", expires_at_1="12:00:00"),
    )
    assert response.status_code == 302, response.content[:3000]
    assert Assignment.objects.get(role=reader).expires_at.year == 2999
    assert selectors.check(user_id=bob.id, permission="docs.page.read")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"user_email": "nobody@example.com"}, "user_email", b"No user has this email."),
        ({"user_email": "not an email"}, "user_email", b"valid email"),
        ({"user_email": "bob@example.com", "scope": "org acme"}, "scope", b"Segments are type:id"),
        ({"user_email": "bob@example.com", "scope": "x" * 600}, "scope", b"characters"),
        ({}, None, b"either a user"),
        (
            {"user_email": "bob@example.com", "expires_at_0": "2000-01-01", "expires_at_1": "00:00:00"},
            "expires_at",
            b"future",
        ),
    ],
)
def test_a_bad_assignment_is_a_form_error_and_grants_nothing(client, admin_staff, codes, fields, field, message):
    reader = role("reader", ["docs.page.read"])
    UserFactory(email="bob@example.com")
    audit_before = AuditEntry.objects.count()
    response = client.post("/admin/permissions/assignment/add/", _assignment_form(reader, **fields))
    assert response.status_code == 200
    assert message in response.content
    errors = response.context["adminform"].form.errors
    assert (field or "__all__") in errors, errors
    assert not Assignment.objects.filter(role=reader).exists()
    assert AuditEntry.objects.count() == audit_before


def test_the_assignment_form_refuses_escalation_with_the_missing_permissions(client, staff, codes):
    # The signed-in user manages assignments but holds docs.page.read in org:acme only: granting a
    # writer there is escalation.
    grant(role("manager", ["rbac.assignment.manage", "rbac.role.view"]), user_id=staff.id)
    grant(role("reader", ["docs.page.read"]), user_id=staff.id, scope="org:acme")
    writer = role("writer", ["docs.page.write"])
    UserFactory(email="bob@example.com")
    response = client.post(
        "/admin/permissions/assignment/add/", _assignment_form(writer, user_email="bob@example.com", scope="org:acme")
    )
    assert response.status_code == 200
    assert b"docs.page.write" in response.content
    assert "escalation_denied" in [e.code for e in response.context["adminform"].form.errors.as_data()["__all__"]]
    assert not Assignment.objects.filter(role=writer).exists()


def _rows(listing) -> list[list[str]]:
    """The changelist's rows as the page renders them: the text of each cell."""
    import re
    from html import unescape

    rows = re.findall(r"<tr>(.*?)</tr>", listing.content.decode().split('id="result_list"')[1], re.S)[1:]
    cell = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cell.findall(row)] for row in rows]


def test_the_assignment_list_shows_people_and_finds_them_by_email_or_name(client, admin_staff, codes):
    reader = role("reader", ["docs.page.read"])
    bob = UserFactory(email="bob@example.com", display_name="Bob Stone")
    carol = UserFactory(email="carol@example.com")
    grant(reader, user_id=bob.id)
    grant(reader, user_id=carol.id, scope="org:acme")
    grant(reader, user_id=bob.id, scope="org:beta", actor_id=admin_staff.id)
    listing = client.get("/admin/permissions/assignment/")
    content = listing.content.decode()
    assert str(bob.id) not in content and str(carol.id) not in content and str(admin_staff.id) not in content
    # role, user, group, scope, expires, created, granted by (after the checkbox)
    rows = {(r[1], r[2], r[4], r[7]) for r in _rows(listing)}
    assert {
        ("reader", "bob@example.com (Bob Stone)", "global", "system"),
        ("reader", "bob@example.com (Bob Stone)", "org:beta", "root@example.com"),
        ("reader", "carol@example.com", "org:acme", "system"),
    } <= rows
    found = client.get("/admin/permissions/assignment/", {"q": "carol@example.com"})
    assert [a.user_id for a in found.context["cl"].result_list] == [carol.id]
    by_name = client.get("/admin/permissions/assignment/", {"q": "bob stone"})
    assert {a.user_id for a in by_name.context["cl"].result_list} == {bob.id}
    by_granter = client.get("/admin/permissions/assignment/", {"q": "root@example.com"})
    found_root = {(a.role.name, a.scope) for a in by_granter.context["cl"].result_list}
    assert found_root == {("admin", ""), ("reader", "org:beta")}  # holds admin, granted bob's org:beta
    nobody = client.get("/admin/permissions/assignment/", {"q": "nobody@example.com"})
    assert nobody.status_code == 200 and list(nobody.context["cl"].result_list) == []


def test_an_assignment_added_in_the_admin_is_announced_with_the_users_email(client, admin_staff, codes):
    reader = role("reader", ["docs.page.read"])
    UserFactory(email="bob@example.com")
    response = client.post(
        "/admin/permissions/assignment/add/", _assignment_form(reader, user_email="bob@example.com"), follow=True
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert "reader to bob@example.com in global" in message and "None" not in message, message
    assert "reader to bob@example.com in global" in client.get("/admin/").content.decode()  # recent actions


def test_an_assignment_is_shown_read_only_with_the_users_email(client, admin_staff, codes):
    bob = UserFactory(email="bob@example.com")
    assignment = grant(role("reader", ["docs.page.read"]), user_id=bob.id, scope="org:acme", actor_id=admin_staff.id)
    page = client.get(f"/admin/permissions/assignment/{assignment.id}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "bob@example.com" in content and "org:acme" in content and "root@example.com" in content  # granted by
    assert str(bob.id) not in content and str(admin_staff.id) not in content
    assert "reader to bob@example.com in org:acme" in content  # the title and breadcrumbs
    assert b'name="scope"' not in page.content  # nothing to edit: revoke and grant anew


def test_deleting_an_assignment_in_the_admin_revokes_it_through_the_service(client, admin_staff, codes):
    bob = UserFactory(email="bob@example.com")
    assignment = grant(role("reader", ["docs.page.read"]), user_id=bob.id)
    response = client.post(f"/admin/permissions/assignment/{assignment.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not selectors.check(user_id=bob.id, permission="docs.page.read")
    assert AuditEntry.objects.get(action="assignment.revoked").actor_id == admin_staff.id


# --- Groups: members by email ------------------------------------------------------------------------


def test_group_members_are_added_by_email_and_removed_through_the_service(client, admin_staff, codes):
    from permissions.core import services

    editors = services.create_group(actor_id=None, name="editors")
    grant(role("reader", ["docs.page.read"]), group=editors, scope="org:acme")
    bob = UserFactory(email="bob@example.com")
    url = f"/admin/permissions/group/{editors.id}/change/"

    response = client.post(url, {"add_member": "bob@example.com"})
    assert response.status_code == 302, response.content[:3000]
    assert selectors.check(user_id=bob.id, permission="docs.page.read", scope="org:acme")
    page = client.get(url).content
    assert b"bob@example.com" in page and b"reader in org:acme" in page

    response = client.post(url, {"add_member": "", "remove_members": [str(bob.id)]})
    assert response.status_code == 302, response.content[:3000]
    assert not selectors.check(user_id=bob.id, permission="docs.page.read", scope="org:acme")
    assert [e.actor_id for e in AuditEntry.objects.filter(action__startswith="group.member")] == [admin_staff.id] * 2


def test_adding_an_unknown_email_to_a_group_is_a_form_error(client, admin_staff, codes):
    from permissions.core import services

    editors = services.create_group(actor_id=None, name="editors")
    response = client.post(f"/admin/permissions/group/{editors.id}/change/", {"add_member": "nobody@example.com"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"add_member": ["No user has this email."]}


def test_a_deactivated_user_gets_no_assignment_and_no_membership_in_the_admin(client, admin_staff, codes):
    """Issue 16 item 3: the service refuses them (asking the users service), and says so on the field."""
    from permissions.core import services

    reader = role("reader", ["docs.page.read"])
    editors = services.create_group(actor_id=None, name="editors")
    new_user(email="gone@example.com", active=False)
    audit_before = AuditEntry.objects.count()
    response = client.post(
        "/admin/permissions/assignment/add/", _assignment_form(reader, user_email="gone@example.com")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"user_email": ["The user does not exist or is deactivated."]}
    response = client.post(f"/admin/permissions/group/{editors.id}/change/", {"add_member": "gone@example.com"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"add_member": ["The user does not exist or is deactivated."]}
    assert not Assignment.objects.filter(role=reader).exists()
    assert not editors.memberships.exists()
    assert AuditEntry.objects.count() == audit_before


def test_adding_a_member_is_refused_when_the_group_carries_what_the_actor_lacks(client, staff, codes):
    from permissions.core import services

    grant(role("manager", ["rbac.group.manage", "rbac.role.view"]), user_id=staff.id)
    editors = services.create_group(actor_id=None, name="editors")
    grant(role("writer", ["docs.page.write"]), group=editors)
    bob = UserFactory(email="bob@example.com")
    response = client.post(f"/admin/permissions/group/{editors.id}/change/", {"add_member": "bob@example.com"})
    assert response.status_code == 200
    assert b"docs.page.write" in response.content
    assert not selectors.check(user_id=bob.id, permission="docs.page.write")


# --- Roles: the permission picker and parents -------------------------------------------------------


def test_a_role_changed_in_the_admin_gets_permissions_and_a_parent(client, admin_staff, codes):
    base = role("base", ["docs.page.read"])
    writer = role("writer", ["docs.page.write"])
    page = client.get(f"/admin/permissions/role/{writer.id}/change/")
    parents = page.context["adminform"].form.fields["parents"].queryset
    assert writer not in parents and base in parents  # a role is no parent of itself
    response = client.post(
        f"/admin/permissions/role/{writer.id}/change/",
        {
            "name": "writer",
            "description": "",
            "permissions": ["docs.page.write", "docs.page.delete"],
            "parents": [str(base.id)],
        },
    )
    assert response.status_code == 302, response.content[:3000]
    bob = UserFactory(email="bob@example.com")
    grant(writer, user_id=bob.id)
    assert selectors.check(user_id=bob.id, permission="docs.page.read")  # inherited from base
    assert selectors.check(user_id=bob.id, permission="docs.page.delete")
    assert AuditEntry.objects.get(action="role.updated").actor_id == admin_staff.id


def test_a_parent_cycle_is_a_form_error(client, admin_staff, codes):
    base = role("base", ["docs.page.read"])
    child = role("child", [], parents=[base])
    response = client.post(
        f"/admin/permissions/role/{base.id}/change/",
        {"name": "base", "description": "", "permissions": ["docs.page.read"], "parents": [str(child.id)]},
    )
    assert response.status_code == 200
    assert b"inherit from itself" in response.content
    assert not Role.objects.get(id=base.id).parents.exists()


# --- The explain page -------------------------------------------------------------------------------

EXPLAIN = "/admin/permissions/assignment/explain/"


def test_the_explain_page_shows_the_grant_chain(client, admin_staff, codes):
    base = role("base", ["docs.page.read"])
    reader = role("reader", [], parents=[base])
    bob = UserFactory(email="bob@example.com")
    assignment = grant(reader, user_id=bob.id, scope="org:acme")
    response = client.get(
        EXPLAIN, {"email": "bob@example.com", "permission": "docs.page.read", "scope": "org:acme/p:1"}
    )
    assert response.status_code == 200
    explanation = response.context["explanation"]
    assert (explanation.allowed, explanation.reason, explanation.role_chain) == (True, "granted", ("reader", "base"))
    content = response.content.decode()
    assert "Allowed" in content and "reader → base" in content and "bob@example.com" in content
    assert f"/admin/permissions/assignment/{assignment.id}/change/" in content


def test_the_explain_page_shows_why_not(client, admin_staff, codes):
    bob = UserFactory(email="bob@example.com")
    grant(role("reader", ["docs.page.read"]), user_id=bob.id, scope="org:acme")
    response = client.get(EXPLAIN, {"email": "bob@example.com", "permission": "docs.page.read", "scope": "org:other"})
    explanation = response.context["explanation"]
    assert (explanation.allowed, explanation.reason) == (False, "scope_mismatch")
    assert b"Denied" in response.content and b"scope_mismatch" in response.content


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"email": "nobody@example.com", "permission": "docs.page.read"}, "email"),
        ({"email": "bob@example.com", "permission": "no.such.code"}, "permission"),
        ({"email": "bob@example.com", "permission": "docs.page.read", "scope": "bad scope"}, "scope"),
    ],
)
def test_bad_explain_input_is_a_form_error(client, admin_staff, codes, query, field):
    UserFactory(email="bob@example.com")
    response = client.get(EXPLAIN, query)
    assert response.status_code == 200
    assert response.context["explanation"] is None
    assert field in response.context["form"].errors


def test_the_explain_page_and_its_links_need_rbac_check_any(client, codes):
    from users.models import User

    plain = UserFactory(email="plain@example.com", is_staff=True)
    client.force_login(User.objects.get(id=plain.id))
    assert client.get(EXPLAIN).status_code == 403
    assert b"explain-link" not in client.get("/admin/permissions/").content


def test_the_explain_page_is_linked_from_the_app_and_the_assignments(client, admin_staff, codes):
    assert EXPLAIN.encode() in client.get("/admin/permissions/").content
    assert EXPLAIN.encode() in client.get("/admin/permissions/assignment/").content


def test_the_audit_log_names_actors_by_email_and_finds_them_by_email(client, admin_staff, codes):
    client.post("/admin/permissions/role/add/", {"name": "reader", "permissions": ["docs.page.read"]})
    listing = client.get("/admin/permissions/auditentry/")
    assert b"root@example.com" in listing.content and b"system" in listing.content
    found = client.get("/admin/permissions/auditentry/", {"q": "root@example.com"})
    assert [e.action for e in found.context["cl"].result_list] == ["role.created"]
    assert client.get("/admin/permissions/auditentry/", {"q": "nobody@example.com"}).status_code == 200


def test_the_only_groups_in_the_admin_are_rbac_groups(client, admin_staff):
    assert client.get("/admin/auth/group/").status_code == 404
    index = client.get("/admin/")
    assert b"/admin/permissions/group/" in index.content and b"/admin/auth/" not in index.content


def test_an_audit_entry_names_its_actor_and_a_user_target_by_email(client, admin_staff, codes):
    from permissions.core import services

    bob = UserFactory(email="bob@example.com")
    client.post("/admin/permissions/role/add/", {"name": "reader", "permissions": ["docs.page.read"]})
    services.user_deactivation_record(user_id=bob.id)
    created = AuditEntry.objects.get(action="role.created")
    page = client.get(f"/admin/permissions/auditentry/{created.id}/change/").content.decode()
    assert "root@example.com" in page and str(admin_staff.id) not in page
    listing = client.get("/admin/permissions/auditentry/", {"q": "bob@example.com"})
    [deactivated] = listing.context["cl"].result_list
    assert deactivated.action == "user.deactivated"
    row = next(r for r in _rows(listing))
    assert "bob@example.com" in row and str(bob.id) not in listing.content.decode()


# --- Refusals: a message that says why, on the page the operator came from ----------------------------


def test_deleting_a_system_role_is_refused_with_a_message_on_the_roles_page(client, admin_staff, codes):
    admin_role = Role.objects.get(name=ADMIN_ROLE)
    for method in (client.get, client.post):
        response = method(f"/admin/permissions/role/{admin_role.id}/delete/", follow=True)
        assert response.redirect_chain == [(f"/admin/permissions/role/{admin_role.id}/change/", 302)]
        assert response.status_code == 200
        [message] = list(response.context["messages"])
        assert (message.level_tag, str(message)) == ("error", "admin: System roles cannot be deleted or changed.")
        assert 'class="error"' in response.content.decode()  # the admin's styled message list
    assert Role.objects.filter(name=ADMIN_ROLE).exists()
    assert not AuditEntry.objects.filter(action="role.deleted").exists()


def test_a_page_an_operator_may_not_open_is_the_admins_own_403_saying_why(client, codes):
    from users.models import User

    plain = UserFactory(email="plain@example.com", is_staff=True)
    client.force_login(User.objects.get(id=plain.id))
    response = client.get("/admin/permissions/role/")
    assert response.status_code == 403
    content = response.content.decode()
    assert "admin/css/base.css" in content and 'id="forbidden-reason"' in content
    assert "Your roles do not grant what this page needs" in content
