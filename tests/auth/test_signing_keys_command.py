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


def test_a_refresh_parses_only_keys_it_has_not_parsed_yet(monkeypatch):
    """A refresh (every GATEHOUSE_SIGNING_KEY_CACHE_SECONDS) that finds the same keys reuses the
    parsed ones: parsing a private key costs ~50 ms with the cache's lock held. A rotation's new
    key is parsed, and signs, at the next refresh."""
    first = keys.signing_key_create()
    keys._cache.invalidate()
    assert keys.signing_key()[0] == first.kid
    parsed = []
    real = keys.serialization.load_pem_private_key
    monkeypatch.setattr(keys.serialization, "load_pem_private_key", lambda *a, **k: parsed.append(1) or real(*a, **k))
    kept = keys.signing_key()[1]

    keys._cache.invalidate()  # what the refresh period does
    assert keys.signing_key() == (first.kid, kept) and parsed == []

    call_command("signing_keys", "rotate")
    keys._cache.invalidate()
    active = SigningKey.objects.get(retired_at__isnull=True)
    assert keys.signing_key()[0] == active.kid and len(parsed) == 1
    assert keys.public_key(first.kid) is not None  # the old key still verifies
