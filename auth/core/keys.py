"""Signing keys: creation, rotation with overlap, and the JWKS.

RS256 was chosen by measurement (docs/auth.md): verification, done on every request, is 1.6x
faster than ES256's; its slower signing happens once per login or refresh, next to a 25 ms
Argon2 verify.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from auth.models import SigningKey
from project.crypto import decrypt, encrypt

from .crypto import new_token

ALGORITHM = "RS256"
RSA_KEY_BITS = 2048
ALLOWED_ALGORITHMS = frozenset({ALGORITHM})
_PURPOSE = "signing-key"


def _cache_seconds() -> float:
    """How long a process trusts its in-memory copy of the key set before looking again
    (GATEHOUSE_SIGNING_KEY_CACHE_SECONDS): the longest a key removed from the database by hand
    (a compromised key) is still trusted by a process that had loaded it."""
    return float(settings.GATEHOUSE_SIGNING_KEY_CACHE_SECONDS)


def _retirement_window() -> timedelta:
    return timedelta(seconds=settings.GATEHOUSE_ACCESS_TOKEN_TTL + settings.GATEHOUSE_TOKEN_LEEWAY + 60)


def _new_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    kid = new_token(12)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey(
        kid=kid, algorithm=ALGORITHM, public_jwk=public_jwk, private_key_encrypted=encrypt(pem, purpose=_PURPOSE)
    )


@transaction.atomic
def signing_key_create() -> SigningKey:
    """A new active key; any previously active key is retired but stays published until every
    token it signed has expired."""
    key = _new_key()
    now = timezone.now()
    SigningKey.objects.select_for_update().filter(retired_at__isnull=True).update(
        retired_at=now, publish_until=now + _retirement_window()
    )
    key.save(force_insert=True)
    _cache.invalidate()
    return key


def _signing_key_first() -> SigningKey:
    """The first key, made on first use. The processes of a fresh deployment all meet "no key" at
    once: the database holds at most one active key (a unique constraint), so every process but
    one fails to insert its own and takes the one that was made. Two first keys would each be
    unknown, for up to a second, to the processes that loaded the other, and their tokens refused
    there (found by tests/reliability/test_load.py)."""
    key = _new_key()
    try:
        with transaction.atomic():
            key.save(force_insert=True)
    except IntegrityError:
        return SigningKey.objects.get(retired_at__isnull=True)
    return key


def signing_keys_prune() -> int:
    """Delete retired keys no token can still need. Returns how many."""
    deleted, _ = SigningKey.objects.filter(publish_until__lt=timezone.now()).delete()
    _cache.invalidate()
    return deleted


class _KeyCache:
    """Per-process copy of the published keys, refreshed every GATEHOUSE_SIGNING_KEY_CACHE_SECONDS
    or on an unknown kid. A key whose publication ends while it is cached stops verifying at that
    moment, without waiting for the next refresh."""

    def __init__(self):
        self._lock = threading.RLock()  # _load may create the first key, which invalidates
        self._loaded_at = -1e9
        self._signing: tuple[str, object] | None = None
        self._public: dict[str, object] = {}
        self._publish_until: dict[str, object] = {}  # kid -> datetime, or None while it signs
        self._jwks: list[dict] = []

    def invalidate(self):
        with self._lock:
            self._loaded_at = -1e9

    def _load(self):
        now = timezone.now()
        keys = list(
            SigningKey.objects.filter(publish_until__isnull=True) | SigningKey.objects.filter(publish_until__gte=now)
        )
        signing = next((k for k in keys if k.retired_at is None), None)
        if signing is None:
            signing = _signing_key_first()
            keys.append(signing)
        # A kid names one key for good: what was parsed under it is kept across refreshes (parsing
        # and checking an RSA private key takes ~50 ms, with the lock held, once a refresh period).
        if self._signing is None or self._signing[0] != signing.kid:
            self._signing = (
                signing.kid,
                serialization.load_pem_private_key(
                    decrypt(signing.private_key_encrypted, purpose=_PURPOSE), password=None
                ),
            )
        self._public = {
            k.kid: self._public.get(k.kid) or jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(k.public_jwk))
            for k in keys
        }
        self._publish_until = {k.kid: k.publish_until for k in keys}
        self._jwks = [k.public_jwk for k in keys]
        self._loaded_at = time.monotonic()

    def _fresh(self, *, force: bool = False):
        with self._lock:
            if force or time.monotonic() - self._loaded_at > _cache_seconds():
                self._load()

    def signing_key(self):
        self._fresh()
        return self._signing

    def public_key(self, kid: str):
        self._fresh()
        if kid not in self._public and time.monotonic() - self._loaded_at > 1.0:
            self._fresh(force=True)  # a key created by another process since; at most once a second
        publish_until = self._publish_until.get(kid)
        if publish_until is not None and publish_until < timezone.now():
            return None  # its publication ended: every token it signed has expired
        return self._public.get(kid)

    def jwks(self) -> dict:
        self._fresh()
        return {"keys": list(self._jwks)}


_cache = _KeyCache()

signing_key = _cache.signing_key
public_key = _cache.public_key
jwks = _cache.jwks
