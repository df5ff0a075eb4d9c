"""Writes of the auth core service: login, refresh rotation, logout, password and email flows."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from auth.interface import (
    EMAIL_VERIFICATION_REQUESTED,
    MFA_CHANGED,
    ONE_TIME_TOKEN_SEAL,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    REFRESH_TOKEN_REUSED,
    SERVICE_NAME,
    AccountInactive,
    ClientInfo,
    EmailNotVerified,
    InvalidCredentials,
    InvalidOneTimeToken,
    InvalidToken,
    MfaRequired,
    MfaStateError,
    PasskeyRequired,
    ReauthenticationFailed,
    ReauthenticationOtpFailed,
    TokenPair,
    WeakPassword,
)
from auth.models import MfaRecovery, OneTimeToken, RefreshToken, Session
from project.crypto import seal_for
from project.events.outbox import outbox_record
from project.kernel.errors import DomainError, InvalidArgument
from project.writes import write_together
from users.interface import User, UserNotFound, user_service

from . import mfa, passkeys, throttle
from .crypto import new_token, token_hash
from .sessions import session_new, sessions_revoke
from .tokens import access_token_issue

log = logging.getLogger(__name__)
REFRESH_REPLAYS = Counter(
    "gatehouse_refresh_token_replays_total",
    "Spent refresh tokens presented again: answered once within the grace window, or reuse (session revoked).",
    ["outcome"],
)
security_log = logging.getLogger("gatehouse.security")

VERIFY_EMAIL_TTL = timedelta(hours=24)
PASSWORD_RESET_TTL = timedelta(hours=1)


def _issue_pair(session: Session) -> tuple[TokenPair, RefreshToken]:
    pair, row = _new_pair(session)
    row.save(force_insert=True)
    return pair, row


def _new_pair(session: Session) -> tuple[TokenPair, RefreshToken]:
    """The pair `_issue_pair` issues, its refresh token's row not saved yet."""
    refresh = new_token()
    row = RefreshToken(session=session, token_hash=token_hash(refresh))
    access, _ = access_token_issue(
        user_id=session.user_id, session_id=session.id, client_id=session.client_id, scope=session.scope
    )
    pair = TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=settings.GATEHOUSE_ACCESS_TOKEN_TTL,
        session_id=session.id,
    )
    return pair, row


def _account_ref(email: str) -> str:
    """Who a failed login was for, without writing what was typed into the log (people type
    passwords into the email field): a short digest that correlates attempts on one account."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def login(*, email: str, password: str, otp: str | None, client: ClientInfo, passkey: dict | None = None) -> TokenPair:
    """Every outcome is a security event in the log (`gatehouse.security`): who, from where, why."""
    where = {"client_ip": client.ip, "account": _account_ref(email)}
    try:
        pair = _login(email=email, password=password, otp=otp, client=client, passkey=passkey)
    except DomainError as exc:
        security_log.warning(
            "login refused: %s", exc.code, extra={"event": "auth.login_failed", "reason": exc.code, **where}
        )
        raise
    security_log.info(
        "login succeeded",
        extra={"event": "auth.login_succeeded", "session_id": str(pair.session_id), **where},
    )
    return pair


def _login(*, email: str, password: str, otp: str | None, client: ClientInfo, passkey: dict | None) -> TokenPair:
    user, attempt, second_factor_unread = _authenticate(
        email=email, password=password, otp=otp, client=client, passkey=passkey, second_factor_with_writes=True
    )
    # The session, its refresh token and the attempt's clean-up: one transaction, and on PostgreSQL
    # one statement (docs/benchmarks.md, issue 24, "Login's writes"). The attempt's row stays, a
    # failure, unless the session is written.
    session = session_new(user_id=user.id, ip=client.ip, user_agent=client.user_agent)
    pair, refresh_row = _new_pair(session)
    writes = {"inserts": [session, refresh_row], "deletes": [throttle.attempt_success_delete(attempt)]}
    if second_factor_unread:
        # Whether the account has a second factor is read by the writes' own statement: nothing is
        # written if it has one. Then the factor decides, as in `_authenticate`.
        if write_together(**writes, unless=mfa.confirmed_device(user_id=user.id)):
            return pair
        _second_factor(user, attempt, otp=otp, must_use_passkey=False)
    write_together(**writes)
    return pair


def login_with_passkey(*, credential: dict, client: ClientInfo) -> TokenPair:
    """A passwordless sign-in (docs/auth.md, "Passkeys"). A passkey with user verification is two
    factors in itself (the device, and the PIN or biometric that unlocks it): TOTP is not asked."""
    user, passkey = authenticate_passkey(credential=credential)
    session = session_new(user_id=user.id, ip=client.ip, user_agent=client.user_agent)
    pair, refresh_row = _new_pair(session)
    write_together(inserts=[session, refresh_row], deletes=[])
    security_log.info(
        "passkey sign-in succeeded",
        extra={
            "event": "auth.login_succeeded",
            "method": "passkey",
            "passkey_id": str(passkey.id),
            "session_id": str(pair.session_id),
            "client_ip": client.ip,
        },
    )
    return pair


def authenticate_passkey(*, credential: dict):
    """A passwordless sign-in's checks (the API's and the hosted page's): the assertion, then the
    account. Returns the user and the passkey."""
    passkey = passkeys.login_verify(credential=credential)
    try:
        user = user_service.get_user(user_id=passkey.user_id)
    except UserNotFound:
        raise passkeys.passkey_failed() from None
    if not user.is_active:
        raise AccountInactive()
    if settings.GATEHOUSE_REQUIRE_VERIFIED_EMAIL and not user.is_verified:
        raise EmailNotVerified()
    mfa_recovery_cancel(user_id=user.id)  # whoever holds a factor is still around
    return user, passkey


def authenticate(*, email: str, password: str, otp: str | None, client: ClientInfo, passkey: dict | None = None):
    """The sign-in checks every entry point shares (the API's token endpoint, the hosted sign-in
    page of OpenID Connect): lockout, password, second factor, active account. Returns the user.
    The attempt is counted before the password is checked (throttle.attempt_begin). The second
    factor is a code (`otp`) or a passkey's assertion (`passkey`, docs/auth.md "Passkeys")."""
    user, attempt, _ = _authenticate(email=email, password=password, otp=otp, client=client, passkey=passkey)
    throttle.attempt_succeeded(attempt)
    return user


def _authenticate(
    *,
    email: str,
    password: str,
    otp: str | None,
    client: ClientInfo,
    passkey: dict | None,
    second_factor_with_writes: bool = False,
) -> tuple[User, throttle.Attempt, bool]:
    """`authenticate`, but the successful attempt is left for the caller to clear
    (`throttle.attempt_succeeded`, or its rows deleted with the caller's writes).

    With `second_factor_with_writes`, a caller that writes with `write_together` may be left to
    read whether the account has a second factor (TOTP) in its writes' statement, and to call
    `_second_factor` if it has: the third value is then True. Only where nothing else would be
    said first (no passkey given, none required, an account that may sign in), so the outcome is
    the same either way."""
    attempt = throttle.attempt_begin(email=email, ip=client.ip)
    # The users service hashes a dummy password for an unknown email: similar time either way.
    user = user_service.verify_password(email=email, password=password)
    if user is None:
        raise InvalidCredentials()  # the attempt stays: a failure
    must_use_passkey = passkey_required_for(user_id=user.id)
    if passkey is not None and (must_use_passkey or mfa.mfa_enabled(user_id=user.id)):
        passkeys.login_verify(credential=passkey, user_id=user.id)  # else InvalidCredentials; counted
        mfa_recovery_cancel(user_id=user.id)  # whoever holds a factor is still around
    elif second_factor_with_writes and passkey is None and not must_use_passkey and _may_sign_in(user):
        return user, attempt, True
    elif mfa.mfa_enabled(user_id=user.id) and _second_factor(user, attempt, otp=otp, must_use_passkey=must_use_passkey):
        return user, attempt, False  # the lost factor is gone: the password alone signs in, this once and after
    _check_account(user, attempt)
    if must_use_passkey and passkey is None:
        throttle.attempt_void(attempt)
        _refuse_without_passkey(user)
    return user, attempt, False


def _second_factor(user, attempt, *, otp: str | None, must_use_passkey: bool) -> bool:
    """The code of an account with TOTP on: raises MfaRequired without one, InvalidOtp for a wrong
    one. True when a due recovery (docs/auth.md) has just removed the factor: the password alone
    signs in, and the account's other checks are not made."""
    if not otp:
        if user.is_active and not must_use_passkey and mfa_recovery_complete_if_due(user_id=user.id):
            return True
        throttle.attempt_void(attempt)
        raise MfaRequired()
    if not mfa.otp_accept(user_id=user.id, otp=otp):
        raise mfa.InvalidOtp()
    mfa_recovery_cancel(user_id=user.id)  # whoever holds the factor is still around
    return False


def passkey_required_for(*, user_id: uuid.UUID) -> bool:
    """Whether the user holds, globally, a role or permission GATEHOUSE_PHISHING_RESISTANT_MFA_FOR
    names: such an account signs in with a passkey only (docs/auth.md, "Requiring a passkey")."""
    from permissions.interface import RoleNotFound, permission_service

    for entry in settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR:
        if "." in entry:
            if permission_service.check(user_id=user_id, permission=entry):
                return True
            continue
        try:
            role = permission_service.get_role_by_name(name=entry)
        except RoleNotFound:
            continue
        if user_id in permission_service.users_with_role(role_id=role.id):
            return True
    return False


def _refuse_without_passkey(user) -> None:
    """A password (and code) was right, but this account must use a passkey. One that has none
    yet gets options to register its first, bound to it: the only thing its password can still do."""
    if passkeys.passkeys_of(user_id=user.id).exists():
        raise PasskeyRequired()
    options = passkeys.register_options(
        user_id=user.id, email=user.email, display_name=user.display_name, purpose=passkeys.Purpose.ENROL
    )
    raise PasskeyRequired(
        "This account must sign in with a passkey and has none yet: register one (an API client finds "
        "the options in this answer's details, for POST /api/v1/auth/passkeys/register), then sign in with it.",
        details={"registration_options": options},
    )


def _may_sign_in(user) -> bool:
    """What `_check_account` lets through."""
    return user.is_active and (user.is_verified or not settings.GATEHOUSE_REQUIRE_VERIFIED_EMAIL)


def _check_account(user, attempt) -> None:
    """What the account itself may do, once the credentials were right (so saying it tells
    nothing to someone who does not hold them)."""
    if not user.is_active:
        throttle.attempt_void(attempt)
        raise AccountInactive()
    if settings.GATEHOUSE_REQUIRE_VERIFIED_EMAIL and not user.is_verified:
        throttle.attempt_void(attempt)
        raise EmailNotVerified()


def request_mfa_recovery(*, email: str, password: str, client: ClientInfo) -> datetime:
    """docs/auth.md, "Recovering a lost second factor". Counted like a sign-in."""
    attempt = throttle.attempt_begin(email=email, ip=client.ip)
    user = user_service.verify_password(email=email, password=password)
    if user is None:
        raise InvalidCredentials()
    throttle.attempt_succeeded(attempt)
    if not user.is_active:
        raise AccountInactive()
    if not mfa.mfa_enabled(user_id=user.id):
        raise MfaStateError("Two-factor authentication is not on: sign in with the password.")
    existing = MfaRecovery.objects.filter(user_id=user.id).first()
    if existing is not None:  # asking again does not move the date (nor mail again)
        return existing.effective_at
    effective_at = timezone.now() + timedelta(seconds=settings.GATEHOUSE_MFA_RECOVERY_DELAY)
    with transaction.atomic(durable=True):
        MfaRecovery.objects.create(user_id=user.id, effective_at=effective_at)
        outbox_record(
            type=MFA_CHANGED,
            producer=SERVICE_NAME,
            payload={
                "user_id": str(user.id),
                "change": "recovery_requested",
                "effective_at": effective_at.strftime("%Y-%m-%d %H:%M UTC"),
            },
        )
    return effective_at


def mfa_recovery_cancel(*, user_id: uuid.UUID) -> None:
    with transaction.atomic(durable=True):
        if MfaRecovery.objects.filter(user_id=user_id).delete()[0]:
            outbox_record(
                type=MFA_CHANGED,
                producer=SERVICE_NAME,
                payload={"user_id": str(user_id), "change": "recovery_cancelled"},
            )


def mfa_recovery_complete_if_due(*, user_id: uuid.UUID) -> bool:
    """Remove the second factor if its recovery request is due; every session ends."""
    if not MfaRecovery.objects.filter(user_id=user_id, effective_at__lte=timezone.now()).exists():
        return False

    def remove(*, user_id):
        MfaRecovery.objects.filter(user_id=user_id).delete()
        mfa.disable_totp(user_id=user_id)

    mfa_changed(user_id=user_id, change="recovered", keep_session_id=None, apply=remove)
    return True


def authenticate_second_factor(
    *, user_id: uuid.UUID, email: str, otp: str, client: ClientInfo, passkey: dict | None = None
):
    """The second step of a two-step sign-in (the hosted page), after a password step that
    answered MfaRequired or PasskeyRequired: the same lockout, code or passkey check and account
    checks as authenticate()."""
    if not otp and passkey is None:
        raise MfaRequired()
    attempt = throttle.attempt_begin(email=email, ip=client.ip)
    if passkey is not None:
        passkeys.login_verify(credential=passkey, user_id=user_id)  # else InvalidCredentials; counted
        mfa_recovery_cancel(user_id=user_id)
    elif not mfa.otp_accept(user_id=user_id, otp=otp):
        raise mfa.InvalidOtp()
    user = user_service.get_user(user_id=user_id)
    _check_account(user, attempt)
    if passkey is None and passkey_required_for(user_id=user.id):
        throttle.attempt_void(attempt)
        _refuse_without_passkey(user)
    throttle.attempt_succeeded(attempt)
    return user


def reauthenticate(*, user_id: uuid.UUID, password: str | None = None, otp: str | None = None, field: str = "password"):
    """A re-authentication prompt inside a signed-in session (changing the password, enrolling,
    confirming or removing a second factor): the password, or a current code, counted against the
    account's sign-in lockout like a sign-in (docs/auth.md; issue 15, item 5). Raises
    ReauthenticationFailed / ReauthenticationOtpFailed (400) and TooManyAttempts (429) while locked."""
    email = user_service.get_user(user_id=user_id).email
    attempt = throttle.attempt_begin(email=email, ip="")
    if otp is not None:
        if not mfa.otp_accept(user_id=user_id, otp=otp, allow_recovery=field != "confirm"):
            raise ReauthenticationOtpFailed(details={"otp": ["The one-time code is not valid."]})
    elif not (password and user_service.check_password(user_id=user_id, password=password)):
        raise ReauthenticationFailed(details={field: ["The password is not correct."]})
    throttle.attempt_succeeded(attempt)


def mfa_changed(*, user_id: uuid.UUID, change: str, keep_session_id: uuid.UUID | None, apply) -> None:
    """A second factor turned on or off (`apply` does it): in one transaction, every other session
    of the user ends (a session opened by whoever changed it, or before, is no longer trusted) and
    `auth.mfa_changed` is recorded; the notifications service mails the user (issue 15, item 3)."""
    with transaction.atomic(durable=True):
        apply(user_id=user_id)
        sessions = Session.objects.filter(user_id=user_id)
        if keep_session_id is not None:
            sessions = sessions.exclude(id=keep_session_id)
        sessions_revoke(sessions, reason=f"mfa_{change}")
        outbox_record(type=MFA_CHANGED, producer=SERVICE_NAME, payload={"user_id": str(user_id), "change": change})


def refresh(*, refresh_token: str, client: ClientInfo, oidc_client_id: str = "") -> TokenPair:
    """`oidc_client_id`: the OpenID Connect client that authenticated at the token endpoint; a
    refresh token of a client's grant is refreshed only by that client, never at the API."""
    presented = token_hash(refresh_token or "")
    found = (
        RefreshToken.objects.filter(token_hash=presented).values_list("session__user_id", "session__client_id").first()
    )
    if found is None or found[1] != oidc_client_id:
        raise InvalidToken()
    owner = found[0]
    # Asked before the transaction: a call to another service never runs inside one. (The
    # users.user_deactivated handler revokes the sessions too; this closes the gap until it runs.)
    try:
        active = user_service.get_user(user_id=owner).is_active
    except UserNotFound:  # deleted outright (not soft-deleted): its tokens are worthless
        active = False
    if not active:
        raise InvalidToken()
    reused_session = idle_session = None
    idle_timeout = settings.GATEHOUSE_SESSION_IDLE_TIMEOUT
    with transaction.atomic(durable=True):
        row = RefreshToken.objects.select_for_update().select_related("session").get(token_hash=presented)
        session = row.session
        now = timezone.now()
        if session.revoked_at is not None or session.expires_at <= now:
            raise InvalidToken()
        if idle_timeout and session.last_used_at <= now - timedelta(seconds=idle_timeout):
            # Not refreshed for longer than the idle timeout (an active client refreshes every few
            # minutes): the session ends here, whatever its absolute expiry.
            sessions_revoke(Session.objects.filter(id=session.id), reason="idle_timeout")
            idle_session = session.id
        elif row.used_at is not None:
            successor = None
            # One grace answer per rotated token (issue 15, item 9): a client that lost the response
            # retries once; the same spent token again is reuse, however soon.
            if row.replays == 0 and now - row.used_at <= timedelta(seconds=settings.GATEHOUSE_REFRESH_REUSE_GRACE):
                # A second retry finds the first retry's token spent too: follow the chain to the
                # newest token, the one usable refresh token of the session.
                successor = row.replaced_by
                while successor is not None and successor.used_at is not None:
                    successor = successor.replaced_by
            if successor is not None:
                # A client that lost the response retries: spend the successor instead of the
                # family, so exactly one usable pair exists at any time.
                RefreshToken.objects.filter(pk=row.pk).update(replays=row.replays + 1)
                REFRESH_REPLAYS.labels(outcome="grace").inc()
                security_log.warning(
                    "spent refresh token replayed within the grace window: answered once",
                    extra={"event": "auth.refresh_token_replayed", "session_id": str(session.id), "ip": client.ip},
                )
                row = RefreshToken.objects.select_for_update().get(pk=successor.pk)
                # Read unlocked above: a concurrent refresh may have spent it since.
                while row.used_at is not None and row.replaced_by_id is not None:
                    row = RefreshToken.objects.select_for_update().get(pk=row.replaced_by_id)
            else:
                refresh_reuse(session=session, ip=client.ip)
                reused_session = session.id
        if reused_session is None and idle_session is None:
            pair, new_row = _issue_pair(session)
            row.used_at = now
            row.replaced_by = new_row
            row.save(update_fields=["used_at", "replaced_by"])
            Session.objects.filter(id=session.id).update(
                last_used_at=now, ip=client.ip or session.ip, user_agent=(client.user_agent or session.user_agent)[:512]
            )
    if reused_session is not None:
        # Raised after the commit: the revocation and its event must stand.
        log.warning("refresh token reuse: session %s revoked", reused_session)
        raise InvalidToken()
    if idle_session is not None:
        security_log.info(
            "session ended: idle", extra={"event": "auth.session_idle_timeout", "session_id": str(idle_session)}
        )
        raise InvalidToken()
    return pair


def refresh_reuse(*, session: Session, ip: str) -> None:
    """A spent refresh token presented again: the session ends, `auth.refresh_token_reused` is
    recorded (the user is mailed). In the caller's transaction."""
    sessions_revoke(Session.objects.filter(id=session.id), reason="refresh_token_reused")
    outbox_record(
        type=REFRESH_TOKEN_REUSED,
        producer=SERVICE_NAME,
        payload={"user_id": str(session.user_id), "session_id": str(session.id), "ip": ip},
    )
    REFRESH_REPLAYS.labels(outcome="reuse").inc()
    security_log.warning(
        "spent refresh token presented again: session revoked",
        extra={"event": "auth.refresh_token_reused", "session_id": str(session.id), "ip": ip},
    )


def session_for_refresh_token(*, refresh_token: str, ip: str) -> uuid.UUID:
    """The live session a refresh token belongs to, for `POST /auth/logout`. A spent (rotated)
    token is reuse, as at refresh: its session ends with the event and the notice (issue 15,
    item 9), and InvalidToken is raised."""
    row = RefreshToken.objects.filter(token_hash=token_hash(refresh_token or "")).select_related("session").first()
    if row is None or row.session.revoked_at is not None or row.session.client_id:
        raise InvalidToken()
    if row.used_at is not None:
        with transaction.atomic(durable=True):
            refresh_reuse(session=row.session, ip=ip)
        raise InvalidToken()
    return row.session_id


def logout(*, session_id: uuid.UUID) -> None:
    with transaction.atomic(durable=True):
        sessions_revoke(Session.objects.filter(id=session_id), reason="logout")


def revoke_all_sessions(*, user_id: uuid.UUID, except_session_id: uuid.UUID | None, reason: str) -> int:
    # Not durable: the users.user_deactivated handler runs it inside its inbox transaction.
    with transaction.atomic():
        sessions = Session.objects.filter(user_id=user_id)
        if except_session_id is not None:
            sessions = sessions.exclude(id=except_session_id)
        return len(sessions_revoke(sessions, reason=reason))


def change_password(*, user_id: uuid.UUID, session_id: uuid.UUID | None, old_password: str, new_password: str) -> None:
    reauthenticate(user_id=user_id, password=old_password, field="old_password")
    _set_password(user_id=user_id, password=new_password)
    with transaction.atomic(durable=True):
        sessions = Session.objects.filter(user_id=user_id)
        if session_id is not None:
            sessions = sessions.exclude(id=session_id)
        sessions_revoke(sessions, reason="password_changed")
        one_time_tokens_revoke(user_id=user_id)
        outbox_record(type=PASSWORD_CHANGED, producer=SERVICE_NAME, payload={"user_id": str(user_id)})


def _set_password(*, user_id: uuid.UUID, password: str) -> None:
    try:
        user_service.set_password(user_id=user_id, password=password)
    except InvalidArgument as exc:
        raise WeakPassword(details={"new_password": exc.details.get("password", [exc.message])}) from None


def _one_time_token(*, purpose: str, user_id: uuid.UUID, email: str, ttl: timedelta) -> str:
    token = new_token()
    OneTimeToken.objects.create(
        token_hash=token_hash(token), purpose=purpose, user_id=user_id, email=email, expires_at=timezone.now() + ttl
    )
    return token


def one_time_tokens_revoke(*, user_id: uuid.UUID) -> int:
    """Spend every pending one-time token (reset, verification) of the user: after a reset, a
    password change or an email change, a link mailed before it must not work any more."""
    return OneTimeToken.objects.filter(user_id=user_id, used_at__isnull=True, expires_at__gt=timezone.now()).update(
        used_at=timezone.now()
    )


def _spend(token: str, *, purpose: str) -> OneTimeToken:
    try:
        row = OneTimeToken.objects.select_for_update().get(token_hash=token_hash(token or ""), purpose=purpose)
    except OneTimeToken.DoesNotExist:
        raise InvalidOneTimeToken() from None
    if row.used_at is not None or row.expires_at <= timezone.now():
        raise InvalidOneTimeToken()
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    return row


def request_password_reset(*, email: str, client: ClientInfo) -> None:
    try:
        user = user_service.get_user_by_email(email=email)
    except (UserNotFound, InvalidArgument):
        user = None
    with transaction.atomic(durable=True):
        # The token is created (and the event recorded) whether or not the account exists, so the
        # two cases cost the same; for an unknown email nobody can ever use it.
        token = _one_time_token(
            purpose=OneTimeToken.Purpose.PASSWORD_RESET,
            user_id=user.id if user else uuid.UUID(int=0),
            email=email[:254],
            ttl=PASSWORD_RESET_TTL,
        )
        if user is not None and user.is_active:
            # The mail is made and sent after the answer, off the request, in every mode: how long
            # the request takes does not tell a known address from an unknown one (issue 15, item 11).
            outbox_record(
                type=PASSWORD_RESET_REQUESTED,
                producer=SERVICE_NAME,
                payload={"user_id": str(user.id), "sealed_token": _sealed(token, user_id=user.id), "ip": client.ip},
                off_request=True,
            )
        else:
            OneTimeToken.objects.filter(token_hash=token_hash(token)).update(used_at=timezone.now())


def confirm_password_reset(*, token: str, new_password: str) -> None:
    # The token is spent before the password is set, so two confirmations racing on one token
    # cannot both set a password (one answering 400 after its password was stored); a refused
    # password gives the token back, so the link stays usable for a better one.
    with transaction.atomic(durable=True):
        row = _spend(token, purpose=OneTimeToken.Purpose.PASSWORD_RESET)
    try:
        _set_password(user_id=row.user_id, password=new_password)
    except Exception:
        OneTimeToken.objects.filter(pk=row.pk).update(used_at=None)
        raise
    with transaction.atomic(durable=True):
        sessions_revoke(Session.objects.filter(user_id=row.user_id), reason="password_reset")
        one_time_tokens_revoke(user_id=row.user_id)
        outbox_record(
            type=PASSWORD_CHANGED, producer=SERVICE_NAME, payload={"user_id": str(row.user_id), "via": "reset"}
        )


def request_email_verification(*, user_id: uuid.UUID) -> None:
    user = user_service.get_user(user_id=user_id)
    if user.is_verified:
        return
    with transaction.atomic(durable=True):
        email_verification_issue(user_id=user.id, email=user.email)


def email_verification_issue(*, user_id: uuid.UUID, email: str) -> None:
    """Issue a verification token for `email` and record the event that mails it (in the
    caller's transaction: the event handler of users.user_registered runs it in its inbox's)."""
    token = _one_time_token(
        purpose=OneTimeToken.Purpose.VERIFY_EMAIL, user_id=user_id, email=email, ttl=VERIFY_EMAIL_TTL
    )
    outbox_record(
        type=EMAIL_VERIFICATION_REQUESTED,
        producer=SERVICE_NAME,
        # `address`: where the link goes (a pending new address is not the user's email yet).
        payload={"user_id": str(user_id), "sealed_token": _sealed(token, user_id=user_id), "address": email},
    )


def verify_email(*, token: str) -> uuid.UUID:
    with transaction.atomic(durable=True):
        row = _spend(token, purpose=OneTimeToken.Purpose.VERIFY_EMAIL)
    user = user_service.get_user(user_id=row.user_id)
    if user.pending_email and user.pending_email == row.email:
        # The link mailed to a new address: the change takes effect now (issue 15, item 1).
        user_service.confirm_email_change(user_id=user.id, email=row.email)
        return user.id
    if user.email != row.email:
        raise InvalidOneTimeToken()
    user_service.update_user(user_id=user.id, is_verified=True)
    return user.id


def _sealed(token: str, *, user_id) -> str:
    # Bound to its user: the notifications service unseals it only into that user's message.
    return seal_for(token, purpose=ONE_TIME_TOKEN_SEAL, subject=str(user_id))
