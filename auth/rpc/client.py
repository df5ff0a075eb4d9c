"""auth.interface.AuthService over gRPC: installed instead of LocalAuthService when
AUTH_GRPC_TARGET is set. Same signatures, same results, same errors; no models.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from auth.interface import ClientInfo, Principal, Session, TokenPair, TotpEnrollment
from project.rpc.client import ServiceClient
from project.rpc.messages import without_none
from protos.gatehouse.auth.v1 import auth_pb2 as pb
from protos.gatehouse.auth.v1 import auth_pb2_grpc

from . import mapping


def _optional_id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


class GrpcAuthService:
    def __init__(self, *, target: str):
        self._rpc = ServiceClient(target, auth_pb2_grpc.AuthServiceStub)

    @property
    def target(self) -> str:
        return self._rpc.target

    def __repr__(self) -> str:
        return f"GrpcAuthService(target={self.target!r})"

    def login(self, *, email: str, password: str, otp: str | None = None, client: ClientInfo) -> TokenPair:
        request = pb.LoginRequest(
            email=email, password=password, client=mapping.client_to_pb(client), **without_none(otp=otp)
        )
        return mapping.token_pair_from_pb(self._rpc.call("Login", request).tokens)

    def refresh(self, *, refresh_token: str, client: ClientInfo) -> TokenPair:
        request = pb.RefreshRequest(refresh_token=refresh_token, client=mapping.client_to_pb(client))
        return mapping.token_pair_from_pb(self._rpc.call("Refresh", request).tokens)

    def verify_access_token(self, *, token: str) -> Principal:
        reply = self._rpc.call("VerifyAccessToken", pb.VerifyAccessTokenRequest(token=token))
        return mapping.principal_from_pb(reply.principal)

    def logout(self, *, session_id: uuid.UUID) -> None:
        self._rpc.call("Logout", pb.LogoutRequest(session_id=str(session_id)))

    def session_for_refresh_token(self, *, refresh_token: str) -> uuid.UUID:
        reply = self._rpc.call("SessionForRefreshToken", pb.SessionForRefreshTokenRequest(refresh_token=refresh_token))
        return uuid.UUID(reply.session_id)

    def list_sessions(self, *, user_id: uuid.UUID) -> list[Session]:
        reply = self._rpc.call("ListSessions", pb.ListSessionsRequest(user_id=str(user_id)))
        return [mapping.session_from_pb(session) for session in reply.sessions]

    def revoke_session(self, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        self._rpc.call("RevokeSession", pb.RevokeSessionRequest(user_id=str(user_id), session_id=str(session_id)))

    def revoke_all_sessions(self, *, user_id: uuid.UUID, except_session_id: uuid.UUID | None = None) -> int:
        request = pb.RevokeAllSessionsRequest(
            user_id=str(user_id), **without_none(except_session_id=_optional_id(except_session_id))
        )
        return self._rpc.call("RevokeAllSessions", request).revoked

    def change_password(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID | None, old_password: str, new_password: str
    ) -> None:
        request = pb.ChangePasswordRequest(
            user_id=str(user_id),
            old_password=old_password,
            new_password=new_password,
            **without_none(session_id=_optional_id(session_id)),
        )
        self._rpc.call("ChangePassword", request)

    def request_password_reset(self, *, email: str, client: ClientInfo) -> None:
        request = pb.RequestPasswordResetRequest(email=email, client=mapping.client_to_pb(client))
        self._rpc.call("RequestPasswordReset", request)

    def confirm_password_reset(self, *, token: str, new_password: str) -> None:
        self._rpc.call("ConfirmPasswordReset", pb.ConfirmPasswordResetRequest(token=token, new_password=new_password))

    def request_email_verification(self, *, user_id: uuid.UUID) -> None:
        self._rpc.call("RequestEmailVerification", pb.RequestEmailVerificationRequest(user_id=str(user_id)))

    def verify_email(self, *, token: str) -> uuid.UUID:
        return uuid.UUID(self._rpc.call("VerifyEmail", pb.VerifyEmailRequest(token=token)).user_id)

    def totp_enroll(self, *, user_id: uuid.UUID, password: str) -> TotpEnrollment:
        reply = self._rpc.call("TotpEnroll", pb.TotpEnrollRequest(user_id=str(user_id), password=password))
        return mapping.enrollment_from_pb(reply.enrollment)

    def totp_confirm(self, *, user_id: uuid.UUID, otp: str, session_id: uuid.UUID | None = None) -> None:
        session = None if session_id is None else str(session_id)
        request = pb.TotpConfirmRequest(user_id=str(user_id), otp=otp, **without_none(session_id=session))
        self._rpc.call("TotpConfirm", request)

    def totp_disable(self, *, user_id: uuid.UUID, password: str, session_id: uuid.UUID | None = None) -> None:
        session = None if session_id is None else str(session_id)
        request = pb.TotpDisableRequest(user_id=str(user_id), password=password, **without_none(session_id=session))
        self._rpc.call("TotpDisable", request)

    def mfa_recovery_request(self, *, email: str, password: str, client: ClientInfo) -> datetime:
        request = pb.MfaRecoveryRequestRequest(email=email, password=password, client=mapping.client_to_pb(client))
        return mapping.from_timestamp(self._rpc.call("MfaRecoveryRequest", request).effective_at)

    def mfa_enabled(self, *, user_id: uuid.UUID) -> bool:
        return self._rpc.call("MfaEnabled", pb.MfaEnabledRequest(user_id=str(user_id))).enabled

    def jwks(self) -> dict:
        return mapping.jwks_from_pb(self._rpc.call("Jwks", pb.JwksRequest()))
