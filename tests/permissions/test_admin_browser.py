"""The RBAC admin in a real headless Chromium, against a real server process on the test database.

Chromium and chromedriver are Debian's (`chromium`, `chromium-driver`; CI installs them): without
them these tests fail, they never skip. They run in both modes: embedded (SQLite file shared with
the server process) and stack (PostgreSQL and Redis shared with it).
"""

from __future__ import annotations

import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from permissions.interface import ADMIN_ROLE, permission_service
from permissions.models import Assignment
from tests.conftest import STACK
from tests.support.browser import chromium
from tests.support.factories import UserFactory
from tests.support.processes import LISTEN_TIMEOUT, Process, free_port, manage, port_open, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple 42"
PERMISSION, SCOPE = "users.user.view", "org:acme"


@pytest.fixture
def server(transactional_db, tmp_path):
    """`manage.py runserver` in its own process; --insecure serves the admin's static files
    (the permission picker is JavaScript) with DEBUG off."""
    port = free_port()
    args = manage("runserver", f"127.0.0.1:{port}", "--noreload", "--insecure", "--skip-checks")
    process = Process("web", args, env=subprocess_env(), log_dir=tmp_path)
    try:
        process.wait_until(lambda: port_open(port), timeout=LISTEN_TIMEOUT, what="listening")
        base = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(f"{base}/admin/login/", timeout=10).close()
        yield base
    finally:
        process.stop()


@pytest.fixture
def browser():
    yield from chromium("--window-size=1280,1600")


def _user(email, *, staff=False):
    return UserFactory(email=email, password=PASSWORD, is_staff=staff)


def _wait(driver, css):
    return WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _log_in(driver, base, email):
    driver.get(f"{base}/admin/login/?next=/admin/")
    driver.find_element(By.ID, "id_username").send_keys(email)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    _wait(driver, "#logout-form")


def _submit(driver):
    driver.find_element(By.CSS_SELECTOR, "[name=_save]").click()


def _explain(driver, base, email, permission, scope):
    driver.get(f"{base}/admin/permissions/assignment/explain/")
    driver.find_element(By.ID, "id_email").send_keys(email)
    Select(driver.find_element(By.ID, "id_permission")).select_by_value(permission)
    driver.find_element(By.ID, "id_scope").send_keys(scope)
    driver.find_element(By.CSS_SELECTOR, "#explain_form [type=submit]").click()
    verdict = _wait(driver, "#explain-verdict")
    return verdict.get_attribute("class"), driver.find_element(By.ID, "explain-reason").text


def test_an_admin_creates_a_role_assigns_it_by_email_and_the_check_changes(server, browser):
    staff = _user("admin@example.com", staff=True)
    permission_service.grant_role(
        actor_id=None, role_id=permission_service.get_role_by_name(name=ADMIN_ROLE).id, user_id=staff.id
    )
    bob = _user("bob@example.com")
    assert not permission_service.check(user_id=bob.id, permission=PERMISSION, scope=f"{SCOPE}/project:42")

    _log_in(browser, server, staff.email)
    assert _explain(browser, server, bob.email, PERMISSION, SCOPE) == (
        "denied",
        "not_assigned",
    )  # only admin holds it yet

    # A role holding the permission, picked in the permission picker (the admin's JavaScript widget).
    browser.get(f"{server}/admin/permissions/role/add/")
    browser.find_element(By.ID, "id_name").send_keys("people-viewer")
    browser.find_element(By.ID, "id_permissions_input").send_keys(PERMISSION)
    browser.find_element(By.CSS_SELECTOR, f"#id_permissions_from option[value='{PERMISSION}']").click()
    browser.find_element(By.ID, "id_permissions_add").click()
    assert [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#id_permissions_to option")] == [
        PERMISSION
    ]
    _submit(browser)
    assert "was added successfully" in _wait(browser, ".messagelist .success").text
    role = permission_service.get_role_by_name(name="people-viewer")
    assert role.permissions == (PERMISSION,)

    # Assigned to Bob, found by his email, in org:acme.
    browser.get(f"{server}/admin/permissions/assignment/add/")
    Select(browser.find_element(By.ID, "id_role")).select_by_visible_text("people-viewer")
    browser.find_element(By.ID, "id_user_email").send_keys("Bob@Example.com")
    browser.find_element(By.ID, "id_scope").send_keys(SCOPE)
    _submit(browser)
    assert "was added successfully" in _wait(browser, ".messagelist .success").text
    assert "bob@example.com" in browser.find_element(By.ID, "result_list").text

    verdict, reason = _explain(browser, server, bob.email, PERMISSION, f"{SCOPE}/project:42")
    assert (verdict, reason) == ("allowed", "granted")
    assert browser.find_element(By.ID, "explain-chain").text == "people-viewer"
    assert _explain(browser, server, bob.email, PERMISSION, "org:other") == ("denied", "scope_mismatch")

    if not STACK:
        # Embedded mode keeps the RBAC cache in each process's memory (LocMemCache): the server's
        # invalidation cannot reach this process. In stack mode both share Redis, and this check
        # also proves that the server's invalidation reached this process.
        from django.core.cache import cache

        from permissions.core import cache as rbac_cache

        cache.clear()
        rbac_cache.local.clear()
    assert permission_service.check(user_id=bob.id, permission=PERMISSION, scope=f"{SCOPE}/project:42")
    assert not permission_service.check(user_id=bob.id, permission=PERMISSION, scope="org:other")
    assignment = Assignment.objects.select_related("role").get(user_id=bob.id)
    assert (assignment.role.name, assignment.scope, assignment.granted_by) == ("people-viewer", SCOPE, staff.id)


def test_a_staff_user_without_rbac_roles_does_not_see_the_rbac_admin(server, browser):
    staff = _user("staff@example.com", staff=True)
    _log_in(browser, server, staff.email)
    assert "Permissions (RBAC)" not in browser.find_element(By.ID, "content-main").text
    for page in ("role/", "assignment/", "assignment/add/", "assignment/explain/", "auditentry/"):
        browser.get(f"{server}/admin/permissions/{page}")
        assert "403" in browser.title or "Forbidden" in browser.page_source, page


def test_a_staff_user_who_may_only_view_roles_sees_them_and_nothing_more(server, browser):
    staff = _user("viewer@example.com", staff=True)
    viewer = permission_service.create_role(actor_id=None, name="rbac-viewer", permissions=["rbac.role.view"])
    permission_service.grant_role(actor_id=None, role_id=viewer.id, user_id=staff.id)
    _log_in(browser, server, staff.email)

    browser.get(f"{server}/admin/permissions/")
    links = {
        a.get_attribute("href").removeprefix(server)
        for a in browser.find_elements(By.CSS_SELECTOR, "#content-main a")
        if a.get_attribute("href")
    }
    assert {"/admin/permissions/role/", "/admin/permissions/permission/"} <= links, links
    hidden = ("/admin/permissions/assignment/", "/admin/permissions/group/", "/admin/permissions/auditentry/")
    assert not [link for link in links if link.startswith(hidden)], links
    assert not browser.find_elements(By.ID, "explain-link")

    browser.get(f"{server}/admin/permissions/role/")
    assert "rbac-viewer" in browser.find_element(By.ID, "result_list").text
    assert not browser.find_elements(By.CSS_SELECTOR, ".object-tools .addlink")
    for page in ("role/add/", f"role/{viewer.id}/delete/", "assignment/", "assignment/explain/", "group/"):
        browser.get(f"{server}/admin/permissions/{page}")
        assert "403" in browser.title or "Forbidden" in browser.page_source, page


def test_an_admin_sees_people_in_the_assignments_finds_them_by_email_and_is_told_why_a_delete_is_refused(
    server, browser
):
    staff = _user("admin@example.com", staff=True)
    admin_role = permission_service.get_role_by_name(name=ADMIN_ROLE)
    permission_service.grant_role(actor_id=None, role_id=admin_role.id, user_id=staff.id)
    reader = permission_service.create_role(actor_id=None, name="reader", permissions=[PERMISSION])
    bob = UserFactory(email="bob@example.com", display_name="Bob Stone")
    carol = UserFactory(email="carol@example.com")
    permission_service.grant_role(actor_id=staff.id, role_id=reader.id, user_id=bob.id, scope=SCOPE)
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=carol.id)
    _log_in(browser, server, staff.email)

    browser.get(f"{server}/admin/permissions/assignment/")
    table = _wait(browser, "#result_list").text
    assert "bob@example.com (Bob Stone)" in table and "carol@example.com" in table
    assert str(bob.id) not in browser.page_source and str(staff.id) not in browser.page_source
    assert "admin@example.com" in table  # granted by

    search = browser.find_element(By.ID, "searchbar")
    search.send_keys("carol@example.com")
    search.submit()
    WebDriverWait(browser, 10).until(lambda d: "q=carol" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert [row.find_element(By.CSS_SELECTOR, ".field-user").text for row in rows] == ["carol@example.com"]

    # The admin's styles are served (DEBUG is off): the message below is the admin's red one.
    browser.get(f"{server}/admin/permissions/role/{admin_role.id}/delete/")
    message = _wait(browser, ".messagelist .error")
    assert message.text.lower() == "admin: system roles cannot be deleted or changed."  # styled: capitalised
    assert browser.current_url == f"{server}/admin/permissions/role/{admin_role.id}/change/"
    assert message.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
