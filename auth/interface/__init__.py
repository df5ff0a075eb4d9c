"""The auth core service: sessions, tokens, credentials, MFA. Other apps import only this module.

Standard library only. `auth_service` is the configured implementation: in-process, or the gRPC
client when `AUTH_GRPC_TARGET` is set.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from project.kernel.delegation import delegate
from project.kernel.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, RateLimited, Unauthenticated


def passkey_assertion(raw: str | None) -> dict[str, Any] | None:
    """A browser's passkey assertion, posted as JSON in a form field (the admin's login, the hosted
    sign-in page): None when the field is empty; anything but a JSON object (or over 64 KiB) is an
    assertion that will not verify, so the sign-in is refused, never a 500."""
    if not raw:
        return None
    try:
        value = json.loads(raw[:65536])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


SERVICE_NAME = "auth"

PASSWORD_CHANGED = "auth.password_changed"
PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"
SESSION_REVOKED = "auth.session_revoked"
REFRESH_TOKEN_REUSED = "auth.refresh_token_reused"
EMAIL_VERIFICATION_REQUESTED = "auth.email_verification_requested"
# A second factor was turned on, turned off, or removed by the recovery path (payload `change`:
# "enabled", "disabled", "recovery_requested", "recovery_cancelled", "recovered").
MFA_CHANGED = "auth.mfa_changed"
# A passkey was registered or removed (payload `user_id`, `passkey_id`, `name`).
PASSKEY_ADDED = "auth.passkey_added"
PASSKEY_REMOVED = "auth.passkey_removed"

# Events that carry a one-time token (`payload["sealed_token"]`) seal it with project.crypto.seal
# under this purpose, so that it is readable neither in the outbox nor on the broker.
ONE_TIME_TOKEN_SEAL = "one-time-token"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an access token speaks for, once its signature, claims and session have been checked."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "Bearer"


@dataclass(frozen=True, slots=True)
class Session:
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    revoked_at: datetime | None
    # "api" (a sign-in at the API), "browser" (the SSO session of the hosted pages) or "oidc" (the
    # grant an OpenID Connect client holds: `client_id`, `client_name`).
    kind: str = "api"
    client_id: str = ""
    client_name: str = ""


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    secret: str
    otpauth_uri: str
    recovery_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Passkey:
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    # When a sign-in showed its signature counter going backwards; it signs in no more.
    flagged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, for sessions and rate limits."""

    ip: str = ""
    user_agent: str = ""


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    default_message = "The email or password is not correct."


class MfaRequired(Unauthenticated):
    code = "mfa_required"
    default_message = "A one-time code from your authenticator app is required."


class InvalidOtp(Unauthenticated):
    code = "invalid_otp"
    default_message = "The one-time code is not valid."


class ReauthenticationFailed(InvalidArgument):
    """A re-authentication prompt in the body (the current password, a current code) was answered
    wrong. The request's own credential is fine, so this is bad input (400), never 401: a client
    that sees 401 takes its session for dead and signs its user out."""

    code = "invalid_password"
    default_message = "The password is not correct."


class ReauthenticationOtpFailed(ReauthenticationFailed):
    code = "invalid_otp"
    default_message = "The one-time code is not valid."


class AccountInactive(PermissionDenied):
    code = "account_inactive"
    default_message = "This account is inactive."


class PasskeyRequired(PermissionDenied):
    """The account must sign in with a passkey (GATEHOUSE_PHISHING_RESISTANT_MFA_FOR). Raised only
    after the password (and code) were right. An account with no passkey yet gets, in `details`,
    `registration_options` for its first one (docs/auth.md, "Requiring a passkey")."""

    code = "passkey_required"
    default_message = (
        "This account must sign in with a passkey: use your passkey (as the second factor after the "
        "password, or on its own)."
    )


class EmailNotVerified(PermissionDenied):
    """GATEHOUSE_REQUIRE_VERIFIED_EMAIL is on and the user has not followed the verification
    link. Raised only after the password (and second factor) were right: it tells nothing to
    someone who does not know them."""

    code = "email_not_verified"
    default_message = "Verify your email address first: open the link in the mail we sent you."


class TooManyAttempts(RateLimited):
    """`details["retry_after"]` is the number of seconds to wait."""

    code = "too_many_attempts"
    default_message = "Too many failed attempts. Try again later."


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    default_message = "The token is invalid or expired."


class InvalidOneTimeToken(InvalidArgument):
    code = "invalid_token"
    default_message = "The link is invalid, expired or already used."


class WeakPassword(InvalidArgument):
    code = "validation_error"
    default_message = "The password is too weak."


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_message = "Session not found."


class PasskeyNotFound(NotFound):
    code = "passkey_not_found"
    default_message = "Passkey not found."


class PasskeyRejected(InvalidArgument):
    """A registration response that does not verify (wrong or spent challenge, origin, RP ID,
    user verification missing, malformed)."""

    code = "invalid_passkey"
    default_message = "The passkey could not be registered: start again from new options."


class LastSignInMethod(Conflict):
    code = "last_sign_in_method"
    default_message = "This is the account's only way to sign in: set a password or add another passkey first."


class MfaStateError(InvalidArgument):
    code = "mfa_state"
    default_message = "Two-factor authentication is not in the state this action needs."


class AuthService(Protocol):
    def login(
        self,
        *,
        email: str,
        password: str,
        otp: str | None = None,
        client: ClientInfo,
        passkey: dict[str, Any] | None = None,
    ) -> TokenPair:
        """Check the credentials (and the TOTP or recovery code when MFA is on), open a session
        and issue its first token pair. `passkey`, an assertion answering a challenge of
        `passkey_login_options`, is a second factor in place of `otp` (InvalidCredentials when it
        does not verify or is not the account's).

        Unknown email and wrong password raise the same InvalidCredentials after similar work.
        Raises MfaRequired / InvalidOtp, AccountInactive, EmailNotVerified (when
        GATEHOUSE_REQUIRE_VERIFIED_EMAIL is on), PasskeyRequired (a holder of what
        GATEHOUSE_PHISHING_RESISTANT_MFA_FOR names, without a passkey), TooManyAttempts (per account after
        GATEHOUSE_LOGIN_MAX_FAILURES failures in 15 minutes, and per client IP).
        """
        ...

    def refresh(self, *, refresh_token: str, client: ClientInfo) -> TokenPair:
        """Rotate a refresh token: the presented one is spent, a new pair is returned.

        Presenting a spent token again (after a short grace window for a client that lost the
        response) revokes the whole session and emits `auth.refresh_token_reused`.
        Raises InvalidToken.
        """
        ...

    def verify_access_token(self, *, token: str) -> Principal:
        """Check signature (kid, algorithm allow-list), `exp`, `nbf`, `iss`, `aud` and that the
        session is not revoked. One cache read when warm. Raises InvalidToken."""
        ...

    def logout(self, *, session_id: uuid.UUID) -> None:
        """Revoke the session: its access tokens stop working at once, its refresh token too."""
        ...

    def session_for_refresh_token(self, *, refresh_token: str) -> uuid.UUID:
        """The live session a current refresh token belongs to, for logout. A spent (rotated) one
        is reuse: the session ends with `auth.refresh_token_reused`, and InvalidToken is raised."""
        ...

    def list_sessions(self, *, user_id: uuid.UUID) -> list[Session]:
        """The user's active sessions, most recently used first."""
        ...

    def revoke_session(self, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Revoke one of the user's sessions. Raises SessionNotFound (also for others' sessions)."""
        ...

    def revoke_all_sessions(self, *, user_id: uuid.UUID, except_session_id: uuid.UUID | None = None) -> int:
        """Revoke every active session of the user but `except_session_id`; returns how many."""
        ...

    def change_password(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID | None, old_password: str, new_password: str
    ) -> None:
        """Change the password after checking the old one; revoke every other session; emit
        `auth.password_changed`. Raises InvalidCredentials, WeakPassword."""
        ...

    def request_password_reset(self, *, email: str, client: ClientInfo) -> None:
        """Mail a single-use reset link if the account exists. Same outcome and similar timing
        whether or not it does (no account enumeration)."""
        ...

    def confirm_password_reset(self, *, token: str, new_password: str) -> None:
        """Set a new password with a reset token (single-use, expiring) and revoke all sessions.
        Raises InvalidOneTimeToken, WeakPassword."""
        ...

    def request_email_verification(self, *, user_id: uuid.UUID) -> None:
        """Mail a single-use, expiring verification link to the user."""
        ...

    def verify_email(self, *, token: str) -> uuid.UUID:
        """Mark the user's email verified; returns the user id. Raises InvalidOneTimeToken."""
        ...

    def enroll_totp(self, *, user_id: uuid.UUID, password: str) -> TotpEnrollment:
        """Start (or restart) TOTP enrolment after re-authenticating with the password: a new
        secret, its otpauth URI and 10 recovery codes. Not active until confirmed. Raises
        ReauthenticationFailed (counted toward the lockout), TooManyAttempts, MfaStateError if TOTP
        is already on."""
        ...

    def confirm_totp(self, *, user_id: uuid.UUID, otp: str, session_id: uuid.UUID | None = None) -> None:
        """Turn TOTP on with a first valid code; every session but `session_id` ends, the user is
        told (`auth.mfa_changed`). Raises ReauthenticationOtpFailed (counted toward the lockout),
        TooManyAttempts, MfaStateError."""
        ...

    def disable_totp(self, *, user_id: uuid.UUID, password: str, session_id: uuid.UUID | None = None) -> None:
        """Turn TOTP off after re-authenticating with the password; every session but
        `session_id` ends, the user is told (`auth.mfa_changed`). Raises ReauthenticationFailed
        (counted toward the lockout), TooManyAttempts, MfaStateError."""
        ...

    def request_mfa_recovery(self, *, email: str, password: str, client: ClientInfo) -> datetime:
        """Ask to remove a lost second factor: after the password (counted like a sign-in), the
        factor is removed at the returned time, at the next sign-in with the password alone, unless
        a sign-in with the factor (or a recovery code) cancels the request first. The user is
        mailed at the request, the cancellation and the removal. Raises InvalidCredentials,
        TooManyAttempts, MfaStateError (TOTP is off)."""
        ...

    def mfa_enabled(self, *, user_id: uuid.UUID) -> bool:
        """Whether TOTP is on for the user."""
        ...

    def passkey_registration_options(self, *, user_id: uuid.UUID) -> dict[str, Any]:
        """PublicKeyCredentialCreationOptions in their JSON form (base64url) for a new
        discoverable passkey of the user, user verification required, excluding the passkeys the
        user has. Its challenge is bound to the user, single-use and expiring
        (GATEHOUSE_WEBAUTHN_CHALLENGE_TTL)."""
        ...

    def register_passkey(self, *, user_id: uuid.UUID | None, credential: dict[str, Any], name: str = "") -> Passkey:
        """Verify the browser's registration response (RegistrationResponseJSON) against a
        challenge of `passkey_registration_options` for this user (spending it), and store the passkey;
        `auth.passkey_added` is recorded (the user is mailed). `user_id` None: the first passkey of
        an account answering the `registration_options` of a PasskeyRequired refusal (the account
        is the one the challenge is bound to). Raises PasskeyRejected."""
        ...

    def list_passkeys(self, *, user_id: uuid.UUID) -> list[Passkey]:
        """The user's passkeys, oldest first."""
        ...

    def rename_passkey(self, *, user_id: uuid.UUID, passkey_id: uuid.UUID, name: str) -> Passkey:
        """Raises PasskeyNotFound (also for others' passkeys), InvalidArgument for a blank name."""
        ...

    def remove_passkey(self, *, user_id: uuid.UUID, passkey_id: uuid.UUID) -> None:
        """Remove one of the user's passkeys; `auth.passkey_removed` is recorded (the user is
        mailed). Raises PasskeyNotFound, LastSignInMethod (the last passkey of an account without
        a password)."""
        ...

    def passkey_login_options(self, *, email: str = "") -> dict[str, Any]:
        """PublicKeyCredentialRequestOptions in their JSON form, user verification required,
        with a single-use expiring challenge. With an email, the challenge accepts only that
        account's passkeys; without one, any discoverable passkey. Says nothing about whether the
        address has an account."""
        ...

    def login_with_passkey(self, *, credential: dict[str, Any], client: ClientInfo) -> TokenPair:
        """Verify an assertion (AuthenticationResponseJSON) against a challenge of
        `passkey_login_options` (spending it), open a session and issue its first token pair, as
        `login` does. Any failure raises the same InvalidCredentials after similar work; a
        signature counter that went backwards also flags the passkey. Raises AccountInactive,
        EmailNotVerified after a valid assertion."""
        ...

    def jwks(self) -> dict[str, Any]:
        """The public keys that verify access tokens, as a JWKS document."""
        ...


auth_service: AuthService = delegate(SERVICE_NAME, AuthService)
