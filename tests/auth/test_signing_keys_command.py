import pytest
from django.core.management import call_command

from auth.core import keys
from auth.models import SigningKey

pytestmark = pytest.mark.django_db


def test_rotate_creates_a_new_active_key_and_keeps_the_old_one_published(capsys):
    first = keys.signing_key_create()
    call_command("signing_keys", "rotate")
    active = SigningKey.objects.get(retired_at__isnull=True)
    assert active.kid != first.kid
    retired = SigningKey.objects.get(kid=first.kid)
    assert retired.publish_until > retired.retired_at
    assert {k["kid"] for k in keys.jwks()["keys"]} == {first.kid, active.kid}
    output = capsys.readouterr().out
    assert "BEGIN" not in output and "PRIVATE" not in output  # never a private key on screen


def test_prune_drops_only_keys_past_their_publication(capsys):
    old = keys.signing_key_create()
    keys.signing_key_create()
    call_command("signing_keys", "prune")
    assert SigningKey.objects.filter(kid=old.kid).exists()
    SigningKey.objects.filter(kid=old.kid).update(publish_until="2000-01-01T00:00:00Z")
    call_command("signing_keys", "prune")
    assert not SigningKey.objects.filter(kid=old.kid).exists()
    assert SigningKey.objects.filter(retired_at__isnull=True).count() == 1


def test_private_keys_are_stored_encrypted():
    key = keys.signing_key_create()
    assert b"PRIVATE KEY" not in bytes(key.private_key_encrypted)
