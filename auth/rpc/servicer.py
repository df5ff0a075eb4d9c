"""gatehouse.auth.v1.AuthService, served by the in-process implementation.

Thin on purpose: requests become interface calls, results become replies. Errors are raised as
they are; the interceptor chain (project.rpc.interceptors) turns them into statuses.
"""

from __future__ import annotations

import grpc

from auth.interface import AuthService
from auth.local import LocalAuthService
from project.rpc.messages import optional
from protos.gatehouse.auth.v1 import auth_pb2 as pb
from protos.gatehouse.auth.v1 import auth_pb2_grpc

from . import mapping
from .mapping import uuid_from


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, auth: AuthService | None = None):
        # The local implementation, not auth.interface.auth_service: a server whose own
        # AUTH_GRPC_TARGET is set must not call itself.
        self.auth = auth or LocalAuthService()

    def Login(self, request: pb.LoginRequest, context: grpc.ServicerContext) -> pb.LoginResponse:
        pair = self.auth.login(
            email=request.email,
            password=request.password,
            otp=optional(request, "otp"),
            client=mapping.client_from_pb(request.client),
        )
        return pb.LoginResponse(tokens=mapping.token_pair_to_pb(pair))

    def Refresh(self, request: pb.RefreshRequest, context: grpc.ServicerContext) -> pb.RefreshResponse:
        pair = self.auth.refresh(refresh_token=request.refresh_token, client=mapping.client_from_pb(request.client))
        return pb.RefreshResponse(tokens=mapping.token_pair_to_pb(pair))

    def VerifyAccessToken(
        self, request: pb.VerifyAccessTokenRequest, context: grpc.ServicerContext
    ) -> pb.VerifyAccessTokenResponse:
        principal = self.auth.verify_access_token(token=request.token)
        return pb.VerifyAccessTokenResponse(principal=mapping.principal_to_pb(principal))

    def Logout(self, request: pb.LogoutRequest, context: grpc.ServicerContext) -> pb.LogoutResponse:
        self.auth.logout(session_id=uuid_from(request, "session_id"))
        return pb.LogoutResponse()

    def SessionForRefreshToken(
        self, request: pb.SessionForRefreshTokenRequest, context: grpc.ServicerContext
    ) -> pb.SessionForRefreshTokenResponse:
        session_id = self.auth.session_for_refresh_token(refresh_token=request.refresh_token)
        return pb.SessionForRefreshTokenResponse(session_id=str(session_id))

    def ListSessions(self, request: pb.ListSessionsRequest, context: grpc.ServicerContext) -> pb.ListSessionsResponse:
        sessions = self.auth.list_sessions(user_id=uuid_from(request, "user_id"))
        return pb.ListSessionsResponse(sessions=[mapping.session_to_pb(session) for session in sessions])

    def RevokeSession(
        self, request: pb.RevokeSessionRequest, context: grpc.ServicerContext
    ) -> pb.RevokeSessionResponse:
        self.auth.revoke_session(user_id=uuid_from(request, "user_id"), session_id=uuid_from(request, "session_id"))
        return pb.RevokeSessionResponse()

    def RevokeAllSessions(
        self, request: pb.RevokeAllSessionsRequest, context: grpc.ServicerContext
    ) -> pb.RevokeAllSessionsResponse:
        revoked = self.auth.revoke_all_sessions(
            user_id=uuid_from(request, "user_id"),
            except_session_id=mapping.optional_uuid_from(request, "except_session_id"),
        )
        return pb.RevokeAllSessionsResponse(revoked=revoked)

    def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: grpc.ServicerContext
    ) -> pb.ChangePasswordResponse:
        self.auth.change_password(
            user_id=uuid_from(request, "user_id"),
            session_id=mapping.optional_uuid_from(request, "session_id"),
            old_password=request.old_password,
            new_password=request.new_password,
        )
        return pb.ChangePasswordResponse()

    def RequestPasswordReset(
        self, request: pb.RequestPasswordResetRequest, context: grpc.ServicerContext
    ) -> pb.RequestPasswordResetResponse:
        self.auth.request_password_reset(email=request.email, client=mapping.client_from_pb(request.client))
        return pb.RequestPasswordResetResponse()

    def ConfirmPasswordReset(
        self, request: pb.ConfirmPasswordResetRequest, context: grpc.ServicerContext
    ) -> pb.ConfirmPasswordResetResponse:
        self.auth.confirm_password_reset(token=request.token, new_password=request.new_password)
        return pb.ConfirmPasswordResetResponse()

    def RequestEmailVerification(
        self, request: pb.RequestEmailVerificationRequest, context: grpc.ServicerContext
    ) -> pb.RequestEmailVerificationResponse:
        self.auth.request_email_verification(user_id=uuid_from(request, "user_id"))
        return pb.RequestEmailVerificationResponse()

    def VerifyEmail(self, request: pb.VerifyEmailRequest, context: grpc.ServicerContext) -> pb.VerifyEmailResponse:
        return pb.VerifyEmailResponse(user_id=str(self.auth.verify_email(token=request.token)))

    def TotpEnroll(self, request: pb.TotpEnrollRequest, context: grpc.ServicerContext) -> pb.TotpEnrollResponse:
        enrollment = self.auth.totp_enroll(user_id=uuid_from(request, "user_id"), password=request.password)
        return pb.TotpEnrollResponse(enrollment=mapping.enrollment_to_pb(enrollment))

    def TotpConfirm(self, request: pb.TotpConfirmRequest, context: grpc.ServicerContext) -> pb.TotpConfirmResponse:
        session = optional(request, "session_id")
        self.auth.totp_confirm(
            user_id=uuid_from(request, "user_id"),
            otp=request.otp,
            session_id=None if session is None else uuid_from(request, "session_id"),
        )
        return pb.TotpConfirmResponse()

    def TotpDisable(self, request: pb.TotpDisableRequest, context: grpc.ServicerContext) -> pb.TotpDisableResponse:
        session = optional(request, "session_id")
        self.auth.totp_disable(
            user_id=uuid_from(request, "user_id"),
            password=request.password,
            session_id=None if session is None else uuid_from(request, "session_id"),
        )
        return pb.TotpDisableResponse()

    def MfaRecoveryRequest(
        self, request: pb.MfaRecoveryRequestRequest, context: grpc.ServicerContext
    ) -> pb.MfaRecoveryRequestResponse:
        effective_at = self.auth.mfa_recovery_request(
            email=request.email, password=request.password, client=mapping.client_from_pb(request.client)
        )
        return pb.MfaRecoveryRequestResponse(effective_at=mapping.timestamp(effective_at))

    def MfaEnabled(self, request: pb.MfaEnabledRequest, context: grpc.ServicerContext) -> pb.MfaEnabledResponse:
        return pb.MfaEnabledResponse(enabled=self.auth.mfa_enabled(user_id=uuid_from(request, "user_id")))

    def Jwks(self, request: pb.JwksRequest, context: grpc.ServicerContext) -> pb.JwksResponse:
        return mapping.jwks_to_pb(self.auth.jwks())


def register(server: grpc.Server) -> str:
    """Add the auth servicer to `server` (project.rpc.server.SERVICERS); the gRPC service's name."""
    from .oidc import register as register_oidc

    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(), server)
    register_oidc(server)  # the OpenID Provider lives with the auth tables (docs/oidc.md)
    return pb.DESCRIPTOR.services_by_name["AuthService"].full_name
