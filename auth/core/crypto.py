"""Hashing of bearer secrets (refresh tokens, one-time tokens, recovery codes)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from project.crypto import derive_key


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """A lookup hash for a high-entropy bearer secret (a slow hash would add nothing)."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(value: str, *, purpose: str) -> str:
    """An HMAC for lower-entropy secrets (recovery codes) and for keys that must not reveal what
    they are about (an email address)."""
    return hmac.new(derive_key(purpose), value.encode(), hashlib.sha256).hexdigest()
