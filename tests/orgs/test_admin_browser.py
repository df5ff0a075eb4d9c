"""The organizations admin in a real headless Chromium, against a real server process on the test
database (as tests/permissions/test_admin_browser.py): create an org with its owner, set its
policy and `domain_join`, mark a domain verified, add a member by email, see members, domains and
invitations, revoke an invitation."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from permissions.interface import ADMIN_ROLE
from tests.permissions.test_admin_browser import PASSWORD, _log_in, _submit, _user, _wait, browser, server  # noqa: F401
from users.interface.orgs import org_scope, org_service
from users.models import Invitation, Organization, OrgDomain

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_creates_an_org_sets_its_policy_adds_a_member_and_revokes_an_invitation(server, browser):  # noqa: F811
    from permissions.interface import permission_service

    staff = _user("admin@example.com", staff=True)
    permission_service.grant_role(
        actor_id=None, role_id=permission_service.get_role_by_name(name=ADMIN_ROLE).id, user_id=staff.id
    )
    owner, bob = _user("owner@example.com"), _user("bob@example.com")
    _log_in(browser, server, staff.email)

    browser.get(f"{server}/admin/users/organization/add/")
    browser.find_element(By.ID, "id_name").send_keys("Acme")
    browser.find_element(By.ID, "id_slug").send_keys("acme")
    browser.find_element(By.ID, "id_owner_email").send_keys(owner.email)
    _submit(browser)
    assert "was added successfully" in _wait(browser, ".messagelist .success").text
    org = Organization.objects.get(slug="acme")
    assert [(m.user_id, m.role) for m in org_service.list_members(actor_id=None, org_id=org.id).results] == [
        (owner.id, "owner")
    ]

    org_service.create_invitation(actor_id=owner.id, org_id=org.id, email="guest@example.com", role="member")
    browser.get(f"{server}/admin/users/organization/{org.id}/change/")
    browser.find_element(By.ID, "id_require_mfa").click()
    Select(browser.find_element(By.ID, "id_domain_join")).select_by_value("allow")
    browser.find_element(By.ID, "id_confirm_domain").send_keys("Acme.Example")
    browser.find_element(By.ID, "id_add_member_email").send_keys(bob.email)
    Select(browser.find_element(By.ID, "id_add_member_role")).select_by_value("admin")
    browser.find_element(By.CSS_SELECTOR, "[name=_continue]").click()
    assert "was changed successfully" in _wait(browser, ".messagelist .success").text
    table = _wait(browser, "#org-members").text
    assert "owner@example.com" in table and "bob@example.com" in table
    assert "guest@example.com" in browser.find_element(By.CSS_SELECTOR, ".inline-group").text
    assert Organization.objects.get(id=org.id).require_mfa is True
    assert Organization.objects.get(id=org.id).domain_join == "allow"
    assert "acme.example" in browser.find_elements(By.CSS_SELECTOR, ".inline-group")[1].text
    assert OrgDomain.objects.get(org_id=org.id).verified_by == "operator"
    assert permission_service.check(user_id=bob.id, permission="orgs.invitation.manage", scope=org_scope(org.id))

    browser.get(f"{server}/admin/users/invitation/")
    browser.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("revoke")
    browser.find_element(By.CSS_SELECTOR, "[name=index]").click()
    assert "1 invitation(s) revoked" in _wait(browser, ".messagelist .success").text
    assert Invitation.objects.get().status == "revoked"


def test_the_admin_refuses_a_taken_slug_on_the_form(server, browser):  # noqa: F811
    from permissions.interface import permission_service

    staff = _user("admin@example.com", staff=True)
    permission_service.grant_role(
        actor_id=None, role_id=permission_service.get_role_by_name(name=ADMIN_ROLE).id, user_id=staff.id
    )
    owner = _user("owner@example.com")
    org_service.create_org(actor_id=owner.id, name="Acme", slug="acme")
    _log_in(browser, server, staff.email)

    browser.get(f"{server}/admin/users/organization/add/")
    browser.find_element(By.ID, "id_name").send_keys("Other")
    browser.find_element(By.ID, "id_slug").send_keys("acme")
    browser.find_element(By.ID, "id_owner_email").send_keys(owner.email)
    _submit(browser)

    assert "already exists" in _wait(browser, ".errornote, .errorlist").text + browser.page_source
    assert Organization.objects.count() == 1
