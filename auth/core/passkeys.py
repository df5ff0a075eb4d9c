"""Passkeys (WebAuthn): registration, management and passwordless sign-in (docs/auth.md, "Passkeys").

py_webauthn parses and verifies every response (CBOR, COSE keys, attestation, signatures); this
module keeps the challenges, the credentials and the sign-in policy around it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import webauthn
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from webauthn.helpers import bytes_to_base64url, options_to_json_dict, parse_client_data_json
from webauthn.helpers.cose import COSECRV, COSEKTY, COSEAlgorithmIdentifier, COSEKey
from webauthn.helpers.encode_cbor import encode_cbor
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from auth.interface import (
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    SERVICE_NAME,
    InvalidCredentials,
    LastSignInMethod,
    PasskeyNotFound,
    PasskeyRejected,
)
from auth.models import Passkey, WebauthnChallenge
from project.events.outbox import outbox_record
from project.kernel.errors import InvalidArgument

security_log = logging.getLogger("gatehouse.security")

Purpose = WebauthnChallenge.Purpose
NAME_MAX_LENGTH = 100
# What a sign-in with an unknown credential verifies against, so that it costs what a known one
# costs: a valid P-256 COSE key (the curve's generator point) that no authenticator holds.
_UNKNOWN_KEY = encode_cbor(
    {
        int(COSEKey.KTY): int(COSEKTY.EC2),
        int(COSEKey.ALG): int(COSEAlgorithmIdentifier.ECDSA_SHA_256),
        int(COSEKey.CRV): int(COSECRV.P256),
        int(COSEKey.X): bytes.fromhex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
        int(COSEKey.Y): bytes.fromhex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
    }
)


def passkey_failed() -> InvalidCredentials:
    return InvalidCredentials("The passkey was not accepted.")


def config_problems(*, rp_id: str, origins: list[str]) -> list[str]:
    """What is wrong with a relying-party configuration: browsers refuse an RP ID that is not the
    origin's host or a parent domain of it, and WebAuthn outside a secure context (https, or
    http on localhost)."""
    if not rp_id:
        return ["GATEHOUSE_WEBAUTHN_RP_ID is empty: set it, or GATEHOUSE_FRONTEND_URL, to the public host name."]
    problems = []
    if not origins:
        problems.append("GATEHOUSE_WEBAUTHN_ORIGINS is empty: list the public origins users sign in from.")
    for origin in origins:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host or parts.path not in ("", "/"):
            problems.append(
                f"GATEHOUSE_WEBAUTHN_ORIGINS: {origin!r} is not an origin such as https://login.example.com."
            )
            continue
        if parts.scheme == "http" and host != "localhost":
            problems.append(
                f"GATEHOUSE_WEBAUTHN_ORIGINS: {origin!r} is not https; browsers allow passkeys over http on localhost only."
            )
        if host != rp_id and not host.endswith("." + rp_id):
            problems.append(
                f"GATEHOUSE_WEBAUTHN_RP_ID {rp_id!r} is neither the host of the origin {origin!r} nor a parent "
                f"domain of it: browsers would refuse every passkey. Behind a proxy, both name the public host."
            )
    return problems


def _origins() -> list[str]:
    return [origin.rstrip("/") for origin in settings.GATEHOUSE_WEBAUTHN_ORIGINS]


def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _challenge_issue(*, purpose: str, user_id: uuid.UUID | None) -> bytes:
    now = timezone.now()
    WebauthnChallenge.objects.filter(expires_at__lte=now).delete()
    challenge = webauthn.helpers.generate_challenge()
    WebauthnChallenge.objects.create(
        challenge_hash=_hash(challenge),
        purpose=purpose,
        user_id=user_id,
        expires_at=now + timedelta(seconds=settings.GATEHOUSE_WEBAUTHN_CHALLENGE_TTL),
    )
    return challenge


def _challenge_spend(credential: Any, *, purpose: str) -> tuple[bytes, WebauthnChallenge] | None:
    """The challenge the browser signed, if it was handed out for `purpose` and is still valid:
    spent now, whatever happens next (a second use finds nothing). None otherwise."""
    try:
        client_data = parse_client_data_json(webauthn.base64url_to_bytes(credential["response"]["clientDataJSON"]))
    except (WebAuthnException, KeyError, TypeError, ValueError):
        return None
    row = WebauthnChallenge.objects.filter(challenge_hash=_hash(client_data.challenge), purpose=purpose).first()
    # Deleting is the spending: of two requests racing on one challenge, one deletes the row.
    if row is None or WebauthnChallenge.objects.filter(pk=row.pk).delete()[0] != 1:
        return None
    if row.expires_at <= timezone.now():
        return None
    return client_data.challenge, row


def register_options(
    *, user_id: uuid.UUID, email: str, display_name: str, purpose: str = Purpose.REGISTER
) -> dict[str, Any]:
    options = webauthn.generate_registration_options(
        rp_id=settings.GATEHOUSE_WEBAUTHN_RP_ID,
        rp_name=settings.GATEHOUSE_WEBAUTHN_RP_NAME,
        user_id=user_id.bytes,  # the user handle: no personal data
        user_name=email,
        user_display_name=display_name or email,
        challenge=_challenge_issue(purpose=purpose, user_id=user_id),
        timeout=settings.GATEHOUSE_WEBAUTHN_CHALLENGE_TTL * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(credential_id))
            for credential_id in Passkey.objects.filter(user_id=user_id).values_list("credential_id", flat=True)
        ],
    )
    return options_to_json_dict(options)


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidArgument(details={"name": [f"At most {NAME_MAX_LENGTH} characters."]})
    return name


def register_passkey(*, user_id: uuid.UUID | None, credential: dict[str, Any], name: str) -> Passkey:
    """`user_id` None: the first passkey of an account that must sign in with one, answering the
    options its refused sign-in carried (an ENROL challenge, bound to the account)."""
    name = _name(name)
    spent = _challenge_spend(credential, purpose=Purpose.REGISTER if user_id else Purpose.ENROL)
    if spent is None or spent[1].user_id is None or spent[1].user_id != (user_id or spent[1].user_id):
        raise PasskeyRejected()
    user_id = spent[1].user_id
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=spent[0],
            expected_rp_id=settings.GATEHOUSE_WEBAUTHN_RP_ID,
            expected_origin=_origins(),
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        security_log.warning(
            "passkey registration refused: %s",
            exc,
            extra={"event": "auth.passkey_register_failed", "user_id": str(user_id)},
        )
        raise PasskeyRejected() from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if len(verified.credential_id) > 1023:  # WebAuthn's limit
        raise PasskeyRejected()
    with transaction.atomic(durable=True):
        if Passkey.objects.filter(credential_id=credential_id).exists():
            raise PasskeyRejected("This passkey is registered already.")
        count = Passkey.objects.filter(user_id=user_id).count()
        passkey = Passkey.objects.create(
            user_id=user_id,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=name or f"Passkey {count + 1}",
            transports=_transports(credential["response"].get("transports")),
            aaguid=verified.aaguid,
            backed_up=verified.credential_backed_up,
        )
        outbox_record(
            type=PASSKEY_ADDED,
            producer=SERVICE_NAME,
            payload={"user_id": str(user_id), "passkey_id": str(passkey.id), "name": passkey.name},
        )
    return passkey


def _transports(value: Any) -> list[str]:
    # Hints for later sign-ins (usb, nfc, internal, hybrid…), as the browser reported them.
    return [t[:16] for t in value if isinstance(t, str)][:8] if isinstance(value, list) else []


def passkeys_of(*, user_id: uuid.UUID):
    return Passkey.objects.filter(user_id=user_id).order_by("created_at", "id")


def passkey_get(*, user_id: uuid.UUID, passkey_id: uuid.UUID) -> Passkey:
    passkey = Passkey.objects.filter(user_id=user_id, id=passkey_id).first()
    if passkey is None:
        raise PasskeyNotFound()
    return passkey


def rename_passkey(*, user_id: uuid.UUID, passkey_id: uuid.UUID, name: str) -> Passkey:
    passkey = passkey_get(user_id=user_id, passkey_id=passkey_id)
    name = _name(name)
    if not name:
        raise InvalidArgument(details={"name": ["A name is required."]})
    passkey.name = name
    passkey.save(update_fields=["name"])
    return passkey


def remove_passkey(*, user_id: uuid.UUID, passkey_id: uuid.UUID, has_password: bool) -> None:
    """`has_password`: whether the account has a usable password (asked of the users service
    before, outside the transaction)."""
    with transaction.atomic(durable=True):
        # Locked, so that two removals racing cannot both leave the account without a way in.
        mine = list(Passkey.objects.select_for_update().filter(user_id=user_id).values_list("id", "name"))
        name = dict(mine).get(passkey_id)
        if name is None:
            raise PasskeyNotFound()
        if len(mine) == 1 and not has_password:
            raise LastSignInMethod()
        Passkey.objects.filter(id=passkey_id).delete()
        outbox_record(
            type=PASSKEY_REMOVED,
            producer=SERVICE_NAME,
            payload={"user_id": str(user_id), "passkey_id": str(passkey_id), "name": name},
        )


def login_options(*, user_id: uuid.UUID | None) -> dict[str, Any]:
    """`user_id`: the account an email named (a nil UUID for an unknown address), or None.
    allowCredentials stays empty either way: every passkey is discoverable (registered with
    residentKey required), and listing an account's credentials would tell that it exists."""
    options = webauthn.generate_authentication_options(
        rp_id=settings.GATEHOUSE_WEBAUTHN_RP_ID,
        challenge=_challenge_issue(purpose=Purpose.LOGIN, user_id=user_id),
        timeout=settings.GATEHOUSE_WEBAUTHN_CHALLENGE_TTL * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def login_verify(*, credential: dict[str, Any], user_id: uuid.UUID | None = None) -> Passkey:
    """Check an assertion; returns the passkey, its counter and last use updated. Every failure
    raises the same InvalidCredentials, after a signature check either way. `user_id`: the account
    the passkey must belong to (a second factor after its password)."""
    spent = _challenge_spend(credential, purpose=Purpose.LOGIN)
    try:
        credential_id = bytes_to_base64url(webauthn.base64url_to_bytes(credential["rawId"]))
    except (KeyError, TypeError, ValueError):
        credential_id = ""
    passkey = Passkey.objects.filter(credential_id=credential_id).first() if credential_id else None
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=spent[0] if spent else b"\0",
            expected_rp_id=settings.GATEHOUSE_WEBAUTHN_RP_ID,
            expected_origin=_origins(),
            credential_public_key=bytes(passkey.public_key) if passkey else _UNKNOWN_KEY,
            # The counter is compared below, once the signature is known to be good: a forged
            # assertion must not be able to flag someone's passkey.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        _refused(passkey, str(exc) or type(exc).__name__)
        raise passkey_failed() from None
    if spent is None or passkey is None:
        _refused(passkey, "unknown credential" if passkey is None else "challenge unknown, spent or expired")
        raise passkey_failed()
    # The account the challenge was asked for (with an email) and the one signing in (2nd factor).
    owners = {spent[1].user_id, user_id} - {None}
    user_handle = credential["response"].get("userHandle")
    if owners - {passkey.user_id} or (user_handle and user_handle != bytes_to_base64url(passkey.user_id.bytes)):
        _refused(passkey, "credential of another account")
        raise passkey_failed()
    with transaction.atomic(durable=True):
        locked = Passkey.objects.select_for_update().filter(pk=passkey.pk).first()  # None: removed meanwhile
        if locked is None or locked.flagged_at is not None:
            refusal = "removed" if locked is None else "flagged"
        elif (verified.new_sign_count or locked.sign_count) and verified.new_sign_count <= locked.sign_count:
            locked.flagged_at = timezone.now()
            locked.save(update_fields=["flagged_at"])
            refusal = "flagged now: the signature counter went backwards"
        else:
            refusal = ""
            locked.sign_count, locked.last_used_at = verified.new_sign_count, timezone.now()
            locked.save(update_fields=["sign_count", "last_used_at"])
    if refusal:
        _refused(passkey, refusal)
        raise passkey_failed()
    return locked


def _refused(passkey: Passkey | None, reason: str) -> None:
    about = {"user_id": str(passkey.user_id), "passkey_id": str(passkey.id)} if passkey else {}
    security_log.warning(
        "passkey sign-in refused: %s", reason, extra={"event": "auth.passkey_login_failed", "reason": reason, **about}
    )
