"""Keys derived from SECRET_KEY, one per purpose, and authenticated encryption with them.

`seal`/`unseal` carry a secret (a one-time token) through places that persist data, such as the
event outbox, the broker and delivery records, without it being readable there.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "derive_key", "encrypt", "seal", "seal_for", "unseal", "unseal_for"]


def derive_key(purpose: str, *, secret: str | None = None) -> bytes:
    secret = settings.SECRET_KEY if secret is None else secret
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gatehouse:" + purpose.encode()).derive(
        secret.encode()
    )


def _fernet(purpose: str) -> MultiFernet:
    # SECRET_KEY_FALLBACKS keep decrypting what an earlier SECRET_KEY encrypted, during rotation.
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derive_key(purpose, secret=s))) for s in secrets])


def encrypt(value: bytes, *, purpose: str) -> bytes:
    return _fernet(purpose).encrypt(value)


def decrypt(token: bytes, *, purpose: str, ttl: int | None = None) -> bytes:
    """Raises InvalidToken if `token` was not encrypted for `purpose` (or is older than `ttl`)."""
    return _fernet(purpose).decrypt(bytes(token), ttl=ttl)


def seal(value: str, *, purpose: str) -> str:
    return encrypt(value.encode(), purpose=purpose).decode()


def unseal(sealed: str, *, purpose: str) -> str:
    return decrypt(sealed.encode(), purpose=purpose).decode()


def seal_for(value: str, *, purpose: str, subject: str) -> str:
    """Seal `value` for `subject` (a user id) alone: `unseal_for` gives it back only for the same
    subject. A sealed one-time token placed in someone else's message opens nothing (issue 15, item 2)."""
    return seal(f"{subject}\n{value}", purpose=purpose)


def unseal_for(sealed: str, *, purpose: str, subject: str) -> str:
    """The value sealed for `subject`. Raises InvalidToken if it does not unseal, or was sealed for
    someone else (or without a subject)."""
    bound, separator, value = unseal(sealed, purpose=purpose).partition("\n")
    if not separator or bound != str(subject):
        raise InvalidToken
    return value
