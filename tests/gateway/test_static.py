"""Static files in the deployed shape (issue 16, items 4 and 6): gunicorn without DEBUG after a real
`collectstatic`, as the image and `scripts/stack` run it. The admin was bare HTML there (its CSS was
404), and /api/docs/ was blank offline (Swagger UI came from a CDN at @latest)."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request

import pytest
from django.test import Client
from selenium.webdriver.common.by import By

from tests.support.browser import chromium
from tests.support.processes import ROOT, Process, free_port, manage, port_open, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

YEAR = 365 * 24 * 3600


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture(scope="module")
def deployed(django_db_setup, django_db_blocker, tmp_path_factory):
    """gunicorn with the production storage (hashed, compressed files) and DEBUG off."""
    tmp = tmp_path_factory.mktemp("static")
    with django_db_blocker.unblock():
        env = subprocess_env(GATEHOUSE_TEST_PRODUCTION_STATIC="1", STATIC_ROOT=str(tmp / "static"))
    env.pop("DEBUG", None)
    subprocess.run(manage("collectstatic", "--noinput", "-v0"), env=env, cwd=ROOT, check=True, timeout=300)
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    process = Process("web", args, env=env, log_dir=tmp)
    try:
        process.wait_until(lambda: port_open(port), timeout=30, what="listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def test_the_admins_stylesheet_is_served_hashed_and_kept_for_a_year(deployed):
    _, _, page = fetch(f"{deployed}/admin/login/")
    [css] = re.findall(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    status, headers, body = fetch(deployed + css.decode())
    assert status == 200 and b"body" in body
    assert f"max-age={YEAR}" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    # The unhashed name answers too (bookmarks, old pages), for a short time only.
    status, headers, _ = fetch(f"{deployed}/static/admin/css/base.css")
    assert status == 200 and f"max-age={YEAR}" not in headers["Cache-Control"]


def test_the_api_docs_load_swagger_ui_from_this_server_only(deployed):
    _, _, page = fetch(f"{deployed}/api/docs/")
    assets = re.findall(rb'(?:src|href)="([^"]+)"', page)
    assert assets and not [a for a in assets if a.startswith((b"http:", b"https:", b"//"))], assets
    scripts = [a.decode() for a in assets if a.endswith(b".js")]
    assert any("swagger-ui" in a for a in scripts), scripts
    for asset in scripts:
        assert fetch(deployed + asset)[0] == 200, asset


def test_the_admin_is_styled_in_a_real_browser_with_debug_off(deployed):
    for driver in chromium():
        driver.get(f"{deployed}/admin/login/")
        header = driver.find_element(By.ID, "header")
        # Unstyled, the header is transparent; the admin's stylesheet paints it.
        assert header.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
        assert driver.find_element(By.ID, "site-name").text == "Gatehouse administration"


def test_operations_are_tagged_by_the_app_service_that_answers_them():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    tags = {
        path: {tag for operation in item.values() if isinstance(operation, dict) for tag in operation.get("tags", [])}
        for path, item in schema["paths"].items()
    }
    assert tags["/api/v1/auth/token"] == {"Authentication"}
    assert tags["/api/v1/users/me"] == {"User Management"}
    assert tags["/api/v1/rbac/check"] == {"RBAC"}
    assert tags["/api/v1/notifications/send"] == {"Notifications"}
    assert tags["/api/v1/oidc/clients"] == {"OpenID Connect"}
    assert "v1" not in set().union(*tags.values())
