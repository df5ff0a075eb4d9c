"""Security configuration: `manage.py check --deploy --fail-level WARNING` is clean with production
settings (CI runs it in .ci/run with a production environment), and the project's own deployment
check refuses a mail backend that would write one-time tokens to the logs."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from gateway.checks import mail_does_not_go_to_the_logs


@pytest.mark.parametrize(
    "backend",
    ["django.core.mail.backends.console.EmailBackend", "django.core.mail.backends.filebased.EmailBackend"],
)
def test_a_mail_backend_that_writes_to_the_output_is_a_deployment_warning(settings, backend, tally):
    settings.EMAIL_BACKEND = backend
    warnings = mail_does_not_go_to_the_logs(None)
    tally.record(len(warnings) == 1)
    assert [w.id for w in warnings] == ["gatehouse.W001"]
    # It is one of the checks `check --deploy` runs, and only then.
    assert "gatehouse.W001" in {m.id for m in run_checks(include_deployment_checks=True)}
    assert "gatehouse.W001" not in {m.id for m in run_checks(include_deployment_checks=False)}


@pytest.mark.parametrize(
    "backend", ["django.core.mail.backends.smtp.EmailBackend", "django.core.mail.backends.locmem.EmailBackend"]
)
def test_a_real_mail_backend_passes(settings, backend, tally):
    settings.EMAIL_BACKEND = backend
    tally.record(mail_does_not_go_to_the_logs(None) == [])
    assert mail_does_not_go_to_the_logs(None) == []
    assert "gatehouse.W001" not in {m.id for m in run_checks(include_deployment_checks=True)}


def test_every_test_docs_security_md_names_exists(tally):
    """docs/security.md maps ASVS requirements to tests by `file::name`: each must exist."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    document = (root / "docs" / "security.md").read_text()
    missing, current = [], None
    for reference in re.findall(r"`((?:tests/[\w/]+\.py)?(?:::\w+)?)`", document):
        path, _, name = reference.partition("::")
        if path:
            current = root / path
            if not current.exists():
                missing.append(path)
                continue
        if name:
            found = current is not None and re.search(rf"^def {name}\(", current.read_text(), re.M)
            tally.record(bool(found))
            if not found:
                missing.append(f"{current.relative_to(root) if current else '?'}::{name}")
    assert tally.made > 50
    assert not missing, missing


@pytest.mark.django_db
def test_with_https_enforced_an_api_call_over_plain_http_is_refused_not_redirected(settings, tally):
    """ASVS 4.1.2: a redirect would come after the token and body went out in the clear."""
    from rest_framework.test import APIClient

    settings.SECURE_SSL_REDIRECT = True
    client = APIClient()
    plain = client.post("/api/v1/auth/token", {"email": "a@example.com", "password": "x"}, format="json")
    tally.record(plain.status_code == 403, plain.status_code)
    assert plain.status_code == 403
    assert plain.json()["error"]["code"] == "https_required"
    # Over HTTPS (directly or behind a proxy that says so) the API answers as usual.
    assert client.get("/api/v1/users/me", secure=True).status_code == 401
    settings.GATEHOUSE_TRUSTED_PROXIES = ["127.0.0.1"]
    assert client.get("/api/v1/users/me", HTTP_X_FORWARDED_PROTO="https").status_code == 401
    # Browsers still get the redirect; health checks stay plain.
    assert client.get("/admin/").status_code == 301
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_without_https_enforced_plain_http_api_calls_work(settings, tally):
    from rest_framework.test import APIClient

    settings.SECURE_SSL_REDIRECT = False
    status = APIClient().get("/api/v1/users/me").status_code
    tally.record(status == 401, status)
    assert status == 401


@pytest.mark.django_db(transaction=True)
def test_a_client_cannot_call_itself_https_with_x_forwarded_proto(tmp_path, tally):
    """Issue 15, item 17: the header counts only from GATEHOUSE_TRUSTED_PROXIES (nginx), not from
    whoever sends it. Against gunicorn with HTTPS enforced: a client on plain HTTP that claims
    HTTPS is still refused; the same claim relayed by a trusted proxy is believed."""
    from tests.reliability.conftest import Web

    claim = {"X-Forwarded-Proto": "https"}
    untrusted = Web("web-untrusted", log_dir=tmp_path, SECURE_SSL_REDIRECT="true", GATEHOUSE_TRUSTED_PROXIES="10.9.9.9")
    try:
        status, body = untrusted.call("GET", "/api/v1/users/me", headers=claim)
        tally.record(status == 403, status)
        assert (status, body["error"]["code"]) == (403, "https_required")
    finally:
        untrusted.stop()

    trusted = Web("web-trusted", log_dir=tmp_path, SECURE_SSL_REDIRECT="true", GATEHOUSE_TRUSTED_PROXIES="127.0.0.1")
    try:
        status, _ = trusted.call("GET", "/api/v1/users/me", headers=claim)
        tally.record(status == 401, status)
        assert status == 401  # believed: HTTPS, so the API answers (no token: 401)
        status, body = trusted.call("GET", "/api/v1/users/me")
        assert (status, body["error"]["code"]) == (403, "https_required")
    finally:
        trusted.stop()
