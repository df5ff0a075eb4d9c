"""The dependency audit CI runs (scripts/audit: pip-audit over every package uv.lock pins) fails
on a known vulnerability. The advisory service is a stand-in answering OSV's /v1/query on
127.0.0.1 with a vulnerability we choose, so the test proves the wiring without the internet."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.processes import ROOT, free_port

ADVISORY = {
    "id": "GHSA-gate-test-0001",
    "summary": "A vulnerability the test made up",
    "affected": [
        {
            "package": {"name": "django", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}],
        }
    ],
}


class FakeOsv:
    def __init__(self, vulnerable: set[str]):
        self.queries: list[dict] = []
        queries, vulnerable_names = self.queries, vulnerable

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                queries.append(query)
                name = query.get("package", {}).get("name")
                body = json.dumps({"vulns": [ADVISORY]} if name in vulnerable_names else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/query"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def audit(osv_url: str, home) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / "audit")],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "GATEHOUSE_OSV_URL": osv_url},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def osv(request):
    service = FakeOsv(vulnerable=set(request.param))
    yield service
    service.close()


@pytest.mark.parametrize("osv", [["django"]], indirect=True)
def test_a_known_vulnerability_in_a_locked_package_fails_the_audit(osv, tmp_path, tally):
    result = audit(osv.url, tmp_path)
    print(f"packages queried {len(osv.queries)}, exit {result.returncode}")
    tally.record(result.returncode == 1)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "GHSA-gate-test-0001" in result.stdout
    assert "django" in result.stdout.lower()
    assert len(osv.queries) > 50  # every pinned package was asked about, dev tools included
    assert {"name": "pip-audit", "ecosystem": "PyPI"} in [q["package"] for q in osv.queries]


@pytest.mark.parametrize("osv", [[]], indirect=True)
def test_no_known_vulnerability_passes(osv, tmp_path, tally):
    result = audit(osv.url, tmp_path)
    print(f"packages queried {len(osv.queries)}, exit {result.returncode}")
    tally.record(result.returncode == 0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No known vulnerabilities found" in result.stdout + result.stderr


def test_an_advisory_service_that_does_not_answer_is_exit_3_not_a_pass(tmp_path, tally):
    result = audit(f"http://127.0.0.1:{free_port()}/v1/query", tmp_path)
    tally.record(result.returncode == 3)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "does not answer" in result.stderr
