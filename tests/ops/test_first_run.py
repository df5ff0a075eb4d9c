"""Issue 16, the first run: a landing page at `/` (item 12), quick-start rate limits under DEBUG
(item 9), and a console that reads cleanly (item 11): no kombu warning per event, each warning
once, with its request id."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.support.processes import LISTEN_TIMEOUT, ROOT, Process, free_port, manage, port_open


@pytest.mark.django_db
def test_the_root_is_a_landing_page_that_links_the_docs_the_admin_and_the_probes(client):
    response = client.get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for link in ('href="/api/docs/"', 'href="/admin/"', 'href="/healthz"', 'href="/readyz"'):
        assert link in page


@pytest.mark.parametrize(("debug", "anon", "user"), [("1", "600/min", "6000/min"), ("0", "60/min", "600/min")])
def test_debug_gives_the_quick_start_limits_a_person_cannot_reach(debug, anon, user):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'; django.setup();"
        "from django.conf import settings; print(settings.GATEHOUSE_RATELIMIT_ANON, settings.GATEHOUSE_RATELIMIT_USER)"
    )
    env = {"PATH": "/usr/bin:/bin", "DEBUG": debug, "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "localhost"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [anon, user]


def test_a_first_run_console_reads_cleanly(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", "GATEHOUSE_DATA_DIR": str(tmp_path / "var"), "HOME": str(tmp_path)}
    migrated = subprocess.run(
        manage("migrate", "--noinput", "-v0"), cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    port = free_port()
    server = Process("runserver", manage("runserver", f"127.0.0.1:{port}", "--noreload"), env=env, log_dir=tmp_path)
    try:
        server.wait_until(lambda: port_open(port), timeout=LISTEN_TIMEOUT, what="listening")
        body = json.dumps({"email": "first@example.com", "password": "a-Long-unguessable-passphrase-42"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/auth/register", body, headers={"Content-Type": "application/json"}
        )
        assert urllib.request.urlopen(request, timeout=20).status == 201
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/no-such-thing", timeout=10)
        server.wait_until(lambda: "no-such-thing HTTP" in server.output(), timeout=10, what="logged")
    finally:
        server.stop()
    console = server.output()
    assert "No hostname was supplied" not in console
    not_found = [line for line in console.splitlines() if "Not Found: /api/v1/no-such-thing" in line]
    assert len(not_found) == 1, not_found  # once, as JSON, not again as plain text
    assert json.loads(not_found[0])["request_id"]


@pytest.mark.django_db
def test_the_admin_is_branded_gatehouse_and_view_site_leads_to_the_landing_page(client):
    page = client.get("/admin/login/").content.decode()
    assert "Gatehouse administration" in page and "<title>Log in | Gatehouse</title>" in page
    from django.contrib import admin

    assert admin.site.site_url == "/"
