"""SCIM bearer tokens: made once, stored as a sha256 digest, found by that digest (docs/scim.md)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.utils import timezone

from .models import ScimToken

TOKEN_PREFIX = "gh_scim_"
LAST_USED_PRECISION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_save_new(token: ScimToken) -> str:
    """Give an unsaved token its secret, save it and return the secret: shown once, never again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    token.prefix, token.digest = secret[: len(TOKEN_PREFIX) + 4], _digest(secret)
    token.save()
    return secret


def token_create(*, name: str, org_id: uuid.UUID | None = None) -> tuple[ScimToken, str]:
    """A new token: global, or limited to the organization `org_id` (the caller checks it exists)."""
    token = ScimToken(name=name, org_id=org_id)
    return token, token_save_new(token)


def token_authenticate(secret: str) -> ScimToken | None:
    """The live token whose secret this is, or None. The lookup is by digest: a wrong secret and an
    unknown one cost the same."""
    token = ScimToken.objects.filter(digest=_digest(secret), revoked_at__isnull=True).first()
    now = timezone.now()
    if token is not None and (token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION):
        # A sync sends thousands of requests: the time of last use is kept to the minute, not written each time.
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, token: ScimToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
