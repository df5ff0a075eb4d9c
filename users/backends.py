"""The Django admin's login goes through the auth service: the same lockout, throttling and
TOTP as the API, so the admin is no side door."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied

from auth.interface import (
    AccountInactive,
    ClientInfo,
    EmailNotVerified,
    PasskeyRequired,
    TooManyAttempts,
    auth_service,
)
from gateway.edge import client_ip
from project.kernel.errors import Unauthenticated
from users.models import User

log = logging.getLogger(__name__)


class GatehouseBackend:
    def authenticate(self, request, username=None, password=None, otp=None, passkey=None, **kwargs):
        if not username or password is None:
            return None
        client = ClientInfo(
            ip=client_ip(request) if request else "",
            user_agent=request.headers.get("User-Agent", "")[:512] if request else "",
        )
        try:
            pair = auth_service.login(
                email=username, password=password, otp=otp or None, client=client, passkey=passkey
            )
        except (TooManyAttempts, AccountInactive, EmailNotVerified, PasskeyRequired) as exc:
            if request is not None:
                request.gatehouse_login_error = exc
            raise PermissionDenied(exc.message) from exc  # stops Django trying other backends
        except Unauthenticated as exc:
            if request is not None:
                request.gatehouse_login_error = exc
            return None
        # The admin keeps its own cookie session; the token session only proved the credentials.
        principal = auth_service.verify_access_token(token=pair.access_token)
        auth_service.logout(session_id=pair.session_id)
        return User.objects.filter(id=principal.user_id).first()

    def get_user(self, user_id):
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
