"""Issue 16 items 4 and 6: static files in the deployed shape. A real gunicorn with DEBUG off serves
the admin's and the API docs' static files itself (WhiteNoise) from what `collectstatic` wrote, and
a real headless Chromium sees a styled admin and a Swagger UI that works with no network beyond
the server. Both modes: embedded (the SQLite file shared with the server) and stack (PostgreSQL)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from permissions.interface import ADMIN_ROLE, permission_service
from tests.support.browser import chromium
from tests.support.factories import UserFactory
from tests.support.processes import ROOT, Process, free_port, manage, port_open, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple 42"
# WhiteNoise's answer for a file whose name carries its hash: cache it for ten years, never revalidate.
FOREVER = "max-age=315360000, public, immutable"
# Chromium resolves nothing but the server: a CDN, were the docs to use one, would not load.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def deployed(**extra: str) -> dict[str, str]:
    """A process as deployed: DEBUG off, static files from collectstatic's manifest (tests.settings)."""
    return subprocess_env(
        DEBUG="0", ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false", GATEHOUSE_TEST_DEPLOYED_STATIC="1", **extra
    )


def collectstatic(static_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        manage("collectstatic", "--noinput", "--verbosity", "0"),
        cwd=ROOT,
        env=deployed(GATEHOUSE_STATIC_ROOT=str(static_root)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def system_check(static_root: Path) -> str:
    result = subprocess.run(
        manage("check"), cwd=ROOT, env=deployed(GATEHOUSE_STATIC_ROOT=str(static_root)), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


@pytest.fixture
def static_root(tmp_path):
    root = tmp_path / "static"
    collected = collectstatic(root)
    assert collected.returncode == 0, collected.stderr[-3000:]
    return root


@pytest.fixture
def web(static_root, tmp_path):
    """gunicorn project.wsgi, as the Procfile and the image start it."""
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    process = Process("web", args, env=deployed(GATEHOUSE_STATIC_ROOT=str(static_root)), log_dir=tmp_path)
    try:
        process.wait_until(lambda: port_open(port) and get(f"http://127.0.0.1:{port}", "/healthz")[0] == 200)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture
def browser():
    yield from chromium("--window-size=1280,1600", OFFLINE)


def get(base: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"{base}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def manifest(static_root: Path) -> dict[str, str]:
    return json.loads((static_root / "staticfiles.json").read_text())["paths"]


def assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


def test_without_debug_gunicorn_serves_the_admin_stylesheet_hashed_compressed_and_cached_forever(web, static_root):
    status, headers, _ = get(web, "/static/admin/css/base.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")

    # The admin's pages name the hashed copy, which never changes: browsers keep it for ten years.
    _, _, page = get(web, "/admin/login/")
    hashed = f"/static/{manifest(static_root)['admin/css/base.css']}"
    assert hashed != "/static/admin/css/base.css" and hashed in page.decode()
    status, headers, body = get(web, hashed, **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Cache-Control"] == FOREVER
    assert headers["Content-Encoding"] == "gzip"
    assert body[:2] == b"\x1f\x8b"


def test_without_debug_the_admin_is_styled_in_a_real_browser(web, browser):
    staff = UserFactory(email="staff@example.com", password=PASSWORD, is_staff=True)
    admin = permission_service.get_role_by_name(name=ADMIN_ROLE)
    permission_service.grant_role(actor_id=None, role_id=admin.id, user_id=staff.id)

    def styled() -> None:
        # Unstyled, the header is transparent and the text is the browser's serif default.
        header = browser.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
        font = browser.execute_script("return getComputedStyle(document.body).fontFamily")
        assert header not in ("rgba(0, 0, 0, 0)", "transparent"), header
        assert "Times" not in font, font
        sheets = browser.execute_script(
            "return [...document.styleSheets].filter(s => s.href).map(s => [s.href, s.cssRules.length])"
        )
        assert sheets and all(rules > 0 for _, rules in sheets), sheets
        assert all(re.search(r"/static/admin/css/[\w/-]+\.[0-9a-f]{12}\.css$", href) for href, _ in sheets), sheets

    browser.get(f"{web}/admin/login/?next=/admin/")
    styled()
    browser.find_element(By.ID, "id_username").send_keys(staff.email)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#logout-form")))
    styled()
    # The admin's scripts run too: its theme toggle is wired up by admin/js/theme.js.
    theme = "return document.documentElement.dataset.theme || ''"
    before = browser.execute_script(theme)
    browser.find_element(By.CSS_SELECTOR, "button.theme-toggle").click()
    assert browser.execute_script(theme) != before


def test_the_api_docs_load_swagger_ui_from_local_static_files_with_no_network(web, browser):
    status, _, page = get(web, "/api/docs/")
    assert status == 200
    html = page.decode()
    assert not re.search(r"https?://", html), re.findall(r"https?://\S+", html)
    referenced = assets(html)
    assert any("swagger-ui-bundle" in url for url in referenced), referenced
    for url in referenced:
        assert url.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/"), url
        status, headers, _ = get(web, url)
        assert status == 200 and headers["Cache-Control"] == FOREVER, (url, status, headers)

    # Chromium can reach nothing but this server, and the page still renders the API, by app service.
    browser.get(f"{web}/api/docs/")
    WebDriverWait(browser, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-tag")))
    tags = [element.get_attribute("data-tag") for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-tag")]
    assert tags == ["User Management", "Organizations", "Authentication", "OIDC", "RBAC", "Notifications"]


def test_without_debug_the_system_check_warns_until_collectstatic_has_run(tmp_path):
    empty = tmp_path / "not-collected"
    assert "gatehouse.W003" in system_check(empty)
    assert collectstatic(empty).returncode == 0
    assert "gatehouse.W003" not in system_check(empty)
    # With DEBUG, pages name the apps' own files: nothing to collect, nothing to warn about.
    env = {**deployed(GATEHOUSE_STATIC_ROOT=str(tmp_path / "nothing")), "DEBUG": "1"}
    result = subprocess.run(manage("check"), cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "gatehouse.W003" not in result.stdout + result.stderr
