"""`manage.py oidc_client` (docs/oidc.md)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from auth.interface.oidc import oidc_provider

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("oidc_client", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_id_and_secret_once_as_json_and_the_secret_is_not_stored():
    from auth.models import OidcClient

    printed = json.loads(
        run(
            "create", "--name", "Grafana", "--redirect-uri", "https://grafana.example.com/login/generic_oauth", "--json"
        )
    )
    assert set(printed) == {"client_id", "client_secret"} and len(printed["client_secret"]) >= 40
    row = OidcClient.objects.get(client_id=printed["client_id"])
    assert printed["client_secret"] not in row.secret_hash and len(row.secret_hash) == 64
    assert [c.name for c in oidc_provider.list_clients()] == ["Grafana"]


def test_a_public_client_gets_no_secret():
    printed = json.loads(
        run("create", "--name", "SPA", "--redirect-uri", "http://localhost:5173/cb", "--public", "--json")
    )
    assert printed["client_secret"] is None


def test_bad_registrations_are_refused_with_a_reason():
    with pytest.raises(CommandError, match="redirect"):
        run("create", "--name", "x", "--redirect-uri", "javascript:alert(1)")
    with pytest.raises(CommandError, match="redirect"):
        run("create", "--name", "x", "--redirect-uri", "http://example.com/cb")  # http off loopback
    with pytest.raises(CommandError, match="redirect"):
        run("create", "--name", "x", "--redirect-uri", "https://example.com/cb#frag")
    with pytest.raises(CommandError, match="client_credentials"):
        run(
            "create",
            "--name",
            "x",
            "--redirect-uri",
            "https://e.com/cb",
            "--public",
            "--grant-type",
            "client_credentials",
        )
    assert oidc_provider.list_clients() == []


def test_delete_removes_the_client():
    printed = json.loads(run("create", "--name", "Old", "--redirect-uri", "https://e.com/cb", "--json"))
    run("delete", printed["client_id"])
    assert oidc_provider.list_clients() == []
    with pytest.raises(CommandError, match="no client"):
        run("delete", printed["client_id"])
