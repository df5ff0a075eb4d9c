"""The in-process implementation of AuthService."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from auth.core import keys, mfa, oidc, passkeys, services, sessions
from auth.core.tokens import access_token_decode
from auth.interface import (
    ClientInfo,
    InvalidToken,
    MfaStateError,
    Passkey,
    Principal,
    Session,
    SessionNotFound,
    TokenPair,
    TotpEnrollment,
)
from auth.interface.oidc import AuthorizePage, BrowserSignIn, EndSessionPage, NewOidcClient, OAuthRequest, OAuthResponse
from auth.interface.oidc import OidcClient as OidcClientData
from auth.models import OidcClient as OidcClientModel
from auth.models import Passkey as PasskeyModel
from auth.models import Session as SessionModel
from project.kernel.errors import DomainError, InvalidArgument
from users.interface import UserNotFound, user_service

security_log = logging.getLogger("gatehouse.security")
# What a security event may name: ids, never a password, a code or a token.
_LOGGED_ARGUMENTS = ("user_id", "session_id", "except_session_id", "passkey_id")


def security_event(name: str):
    """Log the call's outcome as a security event (ASVS 5.0 V16.3): `name`, or `name_failed` with
    the error code; with the ids it was about (for the REST API and gRPC callers alike)."""

    def decorate(method):
        @functools.wraps(method)
        def logged(self, **kwargs):
            about = {key: str(kwargs[key]) for key in _LOGGED_ARGUMENTS if kwargs.get(key) is not None}
            try:
                result = method(self, **kwargs)
            except DomainError as exc:
                security_log.warning(
                    "%s refused: %s", name, exc.code, extra={"event": f"{name}_failed", "reason": exc.code, **about}
                )
                raise
            if isinstance(result, uuid.UUID):  # verify_email answers whose address it was
                about.setdefault("user_id", str(result))
            security_log.info(name, extra={"event": name, **about})
            return result

        return logged

    return decorate


def to_data(session: SessionModel, client_names: dict[str, str] | None = None) -> Session:
    return Session(
        id=session.id,
        user_id=session.user_id,
        created_at=session.created_at,
        last_used_at=session.last_used_at,
        expires_at=session.expires_at,
        ip=session.ip or "",
        user_agent=session.user_agent,
        revoked_at=session.revoked_at,
        kind=session.kind,
        client_id=session.client_id,
        client_name=(client_names or {}).get(session.client_id, ""),
    )


class LocalAuthService:
    def login(
        self,
        *,
        email: str,
        password: str,
        otp: str | None = None,
        client: ClientInfo,
        passkey: dict[str, Any] | None = None,
    ) -> TokenPair:
        return services.login(email=email, password=password, otp=otp, client=client, passkey=passkey)

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

    @security_event("auth.logout")
    def logout(self, *, session_id: uuid.UUID) -> None:
        services.logout(session_id=session_id)

    def session_for_refresh_token(self, *, refresh_token: str) -> uuid.UUID:
        return services.session_for_refresh_token(refresh_token=refresh_token, ip="")

    def list_sessions(self, *, user_id: uuid.UUID) -> list[Session]:
        active = sessions.list_sessions(user_id=user_id)
        names = dict(
            OidcClientModel.objects.filter(client_id__in={s.client_id for s in active if s.client_id}).values_list(
                "client_id", "name"
            )
        )
        return [to_data(s, names) for s in active]

    @security_event("auth.session_revoked")
    def revoke_session(self, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        session = sessions.session_of_user(user_id=user_id, session_id=session_id)
        if session.revoked_at is not None:
            raise SessionNotFound()
        if session.kind == "oidc":  # an application's access: the user takes it back
            oidc.grant_revoke(session=session, reason="revoked_by_user")
            return
        services.logout(session_id=session.id)

    @security_event("auth.sessions_revoked")
    def revoke_all_sessions(self, *, user_id: uuid.UUID, except_session_id: uuid.UUID | None = None) -> int:
        return services.revoke_all_sessions(
            user_id=user_id, except_session_id=except_session_id, reason="revoked_by_user"
        )

    @security_event("auth.password_changed")
    def change_password(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID | None, old_password: str, new_password: str
    ) -> None:
        services.change_password(
            user_id=user_id, session_id=session_id, old_password=old_password, new_password=new_password
        )

    def request_password_reset(self, *, email: str, client: ClientInfo) -> None:
        services.request_password_reset(email=email, client=client)

    @security_event("auth.password_reset")
    def confirm_password_reset(self, *, token: str, new_password: str) -> None:
        services.confirm_password_reset(token=token, new_password=new_password)

    def request_email_verification(self, *, user_id: uuid.UUID) -> None:
        services.request_email_verification(user_id=user_id)

    @security_event("auth.email_verified")
    def verify_email(self, *, token: str) -> uuid.UUID:
        return services.verify_email(token=token)

    @security_event("auth.mfa_enrolment_started")
    def enroll_totp(self, *, user_id: uuid.UUID, password: str) -> TotpEnrollment:
        services.reauthenticate(user_id=user_id, password=password)
        return mfa.enroll_totp(user_id=user_id, email=user_service.get_user(user_id=user_id).email)

    @security_event("auth.mfa_enabled")
    def confirm_totp(self, *, user_id: uuid.UUID, otp: str, session_id: uuid.UUID | None = None) -> None:
        mfa.totp_pending_or_raise(user_id=user_id)
        services.reauthenticate(user_id=user_id, otp=otp, field="confirm")
        services.mfa_changed(user_id=user_id, change="enabled", keep_session_id=session_id, apply=mfa.confirm_totp)

    @security_event("auth.mfa_disabled")
    def disable_totp(self, *, user_id: uuid.UUID, password: str, session_id: uuid.UUID | None = None) -> None:
        if not mfa.mfa_enabled(user_id=user_id):
            raise MfaStateError("Two-factor authentication is not on.")
        services.reauthenticate(user_id=user_id, password=password)
        services.mfa_changed(user_id=user_id, change="disabled", keep_session_id=session_id, apply=mfa.disable_totp)

    @security_event("auth.mfa_recovery_requested")
    def request_mfa_recovery(self, *, email: str, password: str, client: ClientInfo) -> datetime:
        return services.request_mfa_recovery(email=email, password=password, client=client)

    def mfa_enabled(self, *, user_id: uuid.UUID) -> bool:
        return mfa.mfa_enabled(user_id=user_id)

    def passkey_registration_options(self, *, user_id: uuid.UUID) -> dict[str, Any]:
        user = user_service.get_user(user_id=user_id)
        return passkeys.register_options(user_id=user.id, email=user.email, display_name=user.display_name)

    @security_event("auth.passkey_added")
    def register_passkey(self, *, user_id: uuid.UUID | None, credential: dict[str, Any], name: str = "") -> Passkey:
        return _passkey_data(passkeys.register_passkey(user_id=user_id, credential=credential, name=name))

    def list_passkeys(self, *, user_id: uuid.UUID) -> list[Passkey]:
        return [_passkey_data(row) for row in passkeys.passkeys_of(user_id=user_id)]

    def rename_passkey(self, *, user_id: uuid.UUID, passkey_id: uuid.UUID, name: str) -> Passkey:
        return _passkey_data(passkeys.rename_passkey(user_id=user_id, passkey_id=passkey_id, name=name))

    @security_event("auth.passkey_removed")
    def remove_passkey(self, *, user_id: uuid.UUID, passkey_id: uuid.UUID) -> None:
        has_password = user_service.get_user(user_id=user_id).has_password
        passkeys.remove_passkey(user_id=user_id, passkey_id=passkey_id, has_password=has_password)

    def passkey_login_options(self, *, email: str = "") -> dict[str, Any]:
        user_id = None
        if email:
            try:
                user_id = user_service.get_user_by_email(email=email).id
            except (UserNotFound, InvalidArgument):
                user_id = uuid.UUID(int=0)  # a challenge no passkey answers; the same work
        return passkeys.login_options(user_id=user_id)

    def login_with_passkey(self, *, credential: dict[str, Any], client: ClientInfo) -> TokenPair:
        return services.login_with_passkey(credential=credential, client=client)

    def jwks(self) -> dict[str, Any]:
        return keys.jwks()


def _passkey_data(row: PasskeyModel) -> Passkey:
    return Passkey(
        id=row.id, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at, flagged_at=row.flagged_at
    )


def _client_data(row) -> OidcClientData:
    return OidcClientData(
        client_id=row.client_id,
        name=row.name,
        public=row.public,
        first_party=row.first_party,
        redirect_uris=tuple(row.redirect_uris),
        post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
        grant_types=tuple(row.grant_types),
        permissions_scope=row.permissions_scope,
        created_at=row.created_at,
    )


def _sign_in_data(session: SessionModel) -> BrowserSignIn:
    return BrowserSignIn(session_id=session.id, user_id=session.user_id, auth_time=session.auth_time)


class LocalOidcProvider:
    """The in-process implementation of OidcProvider."""

    def discovery(self) -> dict[str, Any]:
        return oidc.discovery()

    def authorize(
        self, *, request: OAuthRequest, browser_session_id: uuid.UUID | None, decision: str = "", fresh: bool = False
    ) -> AuthorizePage | OAuthResponse:
        return oidc.authorize(request=request, browser_session_id=browser_session_id, decision=decision, fresh=fresh)

    def sign_in(
        self,
        *,
        email: str,
        password: str,
        otp: str | None,
        client: ClientInfo,
        mfa_ticket: str = "",
        passkey: dict[str, Any] | None = None,
    ) -> BrowserSignIn:
        return _sign_in_data(
            oidc.sign_in(email=email, password=password, otp=otp, client=client, mfa_ticket=mfa_ticket, passkey=passkey)
        )

    def browser_session(self, *, session_id: uuid.UUID) -> BrowserSignIn | None:
        session = oidc.browser_session(session_id=session_id)
        return None if session is None else _sign_in_data(session)

    @security_event("auth.session_revoked")
    def sign_out(self, *, session_id: uuid.UUID) -> None:
        services.logout(session_id=session_id)

    def token(self, *, request: OAuthRequest) -> OAuthResponse:
        return oidc.token(request=request)

    def revoke(self, *, request: OAuthRequest) -> OAuthResponse:
        return oidc.revoke(request=request)

    def introspect(self, *, request: OAuthRequest) -> OAuthResponse:
        return oidc.introspect(request=request)

    def end_session(
        self, *, request: OAuthRequest, browser_session_id: uuid.UUID | None, confirmed: bool = False
    ) -> EndSessionPage | OAuthResponse:
        return oidc.end_session(request=request, browser_session_id=browser_session_id, confirmed=confirmed)

    def userinfo(self, *, access_token: str) -> dict[str, Any]:
        return oidc.userinfo(access_token=access_token)

    def create_client(
        self,
        *,
        name: str,
        redirect_uris: list[str],
        public: bool = False,
        grant_types: list[str] | None = None,
        first_party: bool = False,
        post_logout_redirect_uris: list[str] | None = None,
        permissions_scope: str = "",
        created_by: uuid.UUID | None = None,
    ) -> NewOidcClient:
        row, secret = oidc.create_client(
            name=name,
            redirect_uris=redirect_uris,
            public=public,
            grant_types=grant_types,
            first_party=first_party,
            post_logout_redirect_uris=post_logout_redirect_uris,
            permissions_scope=permissions_scope,
            created_by=created_by,
        )
        return NewOidcClient(client=_client_data(row), client_secret=secret)

    def list_clients(self) -> list[OidcClientData]:
        return [_client_data(row) for row in OidcClientModel.objects.order_by("name", "client_id")]

    def delete_client(self, *, client_id: str) -> None:
        oidc.delete_client(client_id=client_id)
