"""The in-process implementation of AuthService."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from auth.core import keys, mfa, services, sessions
from auth.core.tokens import access_token_decode
from auth.interface import (
    ClientInfo,
    InvalidCredentials,
    InvalidOtp,
    InvalidToken,
    MfaStateError,
    Principal,
    Session,
    SessionNotFound,
    TokenPair,
    TotpEnrollment,
)
from auth.models import RefreshToken
from auth.models import Session as SessionModel
from users.interface import user_service

from .core.crypto import token_hash


def to_data(session: SessionModel) -> Session:
    return Session(
        id=session.id,
        user_id=session.user_id,
        created_at=session.created_at,
        last_used_at=session.last_used_at,
        expires_at=session.expires_at,
        ip=session.ip or "",
        user_agent=session.user_agent,
        revoked_at=session.revoked_at,
    )


class LocalAuthService:
    def login(self, *, email: str, password: str, otp: str | None = None, client: ClientInfo) -> TokenPair:
        return services.login(email=email, password=password, otp=otp, client=client)

    def refresh(self, *, refresh_token: str, client: ClientInfo) -> TokenPair:
        return services.refresh(refresh_token=refresh_token, client=client)

    def verify_access_token(self, *, token: str) -> Principal:
        claims = access_token_decode(token)
        session_id = uuid.UUID(claims["sid"])
        if not sessions.session_is_alive(session_id):
            raise InvalidToken()
        return Principal(
            user_id=uuid.UUID(claims["sub"]),
            session_id=session_id,
            token_id=claims["jti"],
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )

    def logout(self, *, session_id: uuid.UUID) -> None:
        services.logout(session_id=session_id)

    def session_for_refresh_token(self, *, refresh_token: str) -> uuid.UUID:
        row = RefreshToken.objects.filter(token_hash=token_hash(refresh_token or "")).select_related("session").first()
        if row is None or row.session.revoked_at is not None:
            raise InvalidToken()
        return row.session_id

    def list_sessions(self, *, user_id: uuid.UUID) -> list[Session]:
        return [to_data(s) for s in sessions.sessions_active(user_id=user_id)]

    def revoke_session(self, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        session = sessions.session_of_user(user_id=user_id, session_id=session_id)
        if session.revoked_at is not None:
            raise SessionNotFound()
        services.logout(session_id=session.id)

    def revoke_all_sessions(self, *, user_id: uuid.UUID, except_session_id: uuid.UUID | None = None) -> int:
        return services.revoke_all_sessions(
            user_id=user_id, except_session_id=except_session_id, reason="revoked_by_user"
        )

    def change_password(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID | None, old_password: str, new_password: str
    ) -> None:
        services.change_password(
            user_id=user_id, session_id=session_id, old_password=old_password, new_password=new_password
        )

    def request_password_reset(self, *, email: str, client: ClientInfo) -> None:
        services.request_password_reset(email=email, client=client)

    def confirm_password_reset(self, *, token: str, new_password: str) -> None:
        services.confirm_password_reset(token=token, new_password=new_password)

    def request_email_verification(self, *, user_id: uuid.UUID) -> None:
        services.request_email_verification(user_id=user_id)

    def verify_email(self, *, token: str) -> uuid.UUID:
        return services.verify_email(token=token)

    def totp_enroll(self, *, user_id: uuid.UUID) -> TotpEnrollment:
        return mfa.totp_enroll(user_id=user_id, email=user_service.get(user_id=user_id).email)

    def totp_confirm(self, *, user_id: uuid.UUID, otp: str) -> None:
        mfa.totp_confirm(user_id=user_id, otp=otp)

    def totp_disable(self, *, user_id: uuid.UUID, otp: str | None = None, password: str | None = None) -> None:
        if not mfa.totp_is_on(user_id=user_id):
            raise MfaStateError("Two-factor authentication is not on.")
        if otp:
            if not mfa.otp_accept(user_id=user_id, otp=otp):
                raise InvalidOtp()
        elif not (password and user_service.check_password(user_id=user_id, password=password)):
            raise InvalidCredentials("A current code or the password is required.")
        mfa.totp_disable(user_id=user_id)

    def mfa_enabled(self, *, user_id: uuid.UUID) -> bool:
        return mfa.totp_is_on(user_id=user_id)

    def jwks(self) -> dict:
        return keys.jwks()
