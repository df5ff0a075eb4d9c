"""TOTP (RFC 6238) second factor with single-use recovery codes."""

from __future__ import annotations

import secrets
import uuid

import pyotp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from auth.interface import InvalidOtp, MfaStateError, TotpEnrollment
from auth.models import MfaRecovery, RecoveryCode, TotpDevice
from project.compiled import CompiledRead, Statement
from project.crypto import decrypt, encrypt

from .crypto import keyed_hash

RECOVERY_CODES = 10
_SECRET_PURPOSE = "totp-secret"
_CODE_PURPOSE = "recovery-code"
# Codes of the previous and next 30-second step are accepted: clocks drift.
VALID_WINDOW = 1

__all__ = [
    "InvalidOtp",
    "confirm_totp",
    "disable_totp",
    "enroll_totp",
    "mfa_enabled",
    "otp_accept",
    "totp_pending_or_raise",
]


def _totp(device: TotpDevice) -> pyotp.TOTP:
    return pyotp.TOTP(decrypt(device.secret_encrypted, purpose=_SECRET_PURPOSE).decode())


def _code_hash(code: str) -> str:
    return keyed_hash(code.replace("-", "").replace(" ", "").lower(), purpose=_CODE_PURPOSE)


# Read on every GET /users/me: a statement compiled once (project/compiled.py).
_CONFIRMED_DEVICE = CompiledRead(
    TotpDevice,
    "user_id",
    lambda user_id: TotpDevice.objects.filter(user_id=user_id, confirmed_at__isnull=False).values_list("pk")[:1],
    uuid.UUID(int=0),
)


def mfa_enabled(*, user_id: uuid.UUID) -> bool:
    return _CONFIRMED_DEVICE.first(user_id) is not None


def confirmed_device(*, user_id: uuid.UUID) -> Statement:
    """The read of `mfa_enabled` as a statement, for a caller that runs it with its writes (a
    login: `project.writes.write_together(unless=…)`)."""
    return _CONFIRMED_DEVICE.statement(user_id)


@transaction.atomic(durable=True)
def enroll_totp(*, user_id: uuid.UUID, email: str) -> TotpEnrollment:
    if mfa_enabled(user_id=user_id):
        raise MfaStateError("Two-factor authentication is already on; disable it first.")
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(
        user_id=user_id,
        defaults={"secret_encrypted": encrypt(secret.encode(), purpose=_SECRET_PURPOSE), "confirmed_at": None},
    )
    codes = tuple(f"{secrets.token_hex(5)[:5]}-{secrets.token_hex(5)[:5]}" for _ in range(RECOVERY_CODES))
    RecoveryCode.objects.filter(user_id=user_id).delete()
    RecoveryCode.objects.bulk_create(RecoveryCode(user_id=user_id, code_hash=_code_hash(code)) for code in codes)
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=settings.GATEHOUSE_TOTP_ISSUER)
    return TotpEnrollment(secret=secret, otpauth_uri=uri, recovery_codes=codes)


def _accept_totp(device: TotpDevice, otp: str) -> bool:
    totp = _totp(device)
    now = timezone.now()
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = totp.timecode(now) + offset
        if step > device.last_used_step and secrets.compare_digest(totp.generate_otp(step), otp):
            device.last_used_step = step
            device.save(update_fields=["last_used_step"])
            return True
    return False


def otp_accept(*, user_id: uuid.UUID, otp: str, allow_recovery: bool = True) -> bool:
    """Accept a current TOTP code (each time step once) or an unused recovery code (spent now)."""
    otp = (otp or "").strip()
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user_id=user_id).first()
        if device is None:
            return False
        # isdigit() is also true for fullwidth or Arabic-Indic digits, which compare_digest refuses.
        if otp.isascii() and otp.isdigit() and len(otp) == 6 and _accept_totp(device, otp):
            return True
        if allow_recovery and device.confirmed_at is not None:
            spent = RecoveryCode.objects.filter(
                user_id=user_id, code_hash=_code_hash(otp), used_at__isnull=True
            ).update(used_at=timezone.now())
            return spent == 1
    return False


def totp_pending_or_raise(*, user_id: uuid.UUID) -> None:
    device = TotpDevice.objects.filter(user_id=user_id).first()
    if device is None or device.confirmed_at is not None:
        raise MfaStateError("Start enrolment first." if device is None else "Two-factor authentication is already on.")


def confirm_totp(*, user_id: uuid.UUID) -> None:
    """Turn the enrolled device on (the caller checked a first code); inside the caller's transaction."""
    TotpDevice.objects.filter(user_id=user_id, confirmed_at__isnull=True).update(confirmed_at=timezone.now())


def disable_totp(*, user_id: uuid.UUID) -> None:
    """Callers check the password first; inside the caller's transaction."""
    if not TotpDevice.objects.filter(user_id=user_id).exists():
        raise MfaStateError("Two-factor authentication is not on.")
    TotpDevice.objects.filter(user_id=user_id).delete()
    RecoveryCode.objects.filter(user_id=user_id).delete()
    MfaRecovery.objects.filter(user_id=user_id).delete()
