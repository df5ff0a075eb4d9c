"""REST endpoints of /api/v1/auth/ (docs/auth.md): one API class per operation."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth.interface import ClientInfo, InvalidToken, PasskeyNotFound, TokenPair, auth_service
from gateway.direct import answered_first, json_of, json_response, plain_json_request
from gateway.edge import client_ip
from gateway.fields import StringField, plain_text
from gateway.parsers import json_body

PASSWORD = {"max_length": 4096, "trim_whitespace": False}


def client_info(request) -> ClientInfo:
    return ClientInfo(ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")[:512])


def token_body(pair: TokenPair) -> dict:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    }


TokenOutput = inline_serializer(
    "TokenPair",
    {
        "access_token": serializers.CharField(),
        "refresh_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
    },
)


class AnonymousApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class VerifyEmailApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        token = StringField(max_length=256)

    @extend_schema(
        operation_id="verify_email",
        request=InputSerializer,
        responses={200: inline_serializer("Verified", {"verified": serializers.BooleanField()})},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth_service.verify_email(token=data.validated_data["token"])
        return Response({"verified": True})


def plain_login_input(data) -> dict | None:
    """TokenApi.InputSerializer's validated data, read with plain code, for a body that is plainly
    valid: an email and a password, and perhaps a code (issue 24: making the serializer's fields
    cost a login about a tenth of what it does beyond the password hash). None for anything else:
    the serializer then decides, so every invalid body gets exactly its error, and the valid ones
    left to it (a passkey, non-ASCII text, an extra key) its reading.
    tests/auth/test_login_input.py proves the two agree."""
    if type(data) is not dict or not data.keys() <= {"email", "password", "otp"}:
        return None
    email = plain_text(data.get("email"), 254)
    password = plain_text(data.get("password"), PASSWORD["max_length"], trim=False)
    if email is None or password is None:
        return None
    values = {"email": email, "password": password}
    if "otp" in data:  # a blank code is a valid one: no code
        values["otp"] = plain_text(data["otp"], 32, allow_blank=True)
        if values["otp"] is None:
            return None
    return values


def login_body(values: dict, request) -> dict:
    """The token pair's body of a sign-in with `values` (the login's validated data), from the
    client that sent `request` (Django's or DRF's)."""
    pair = auth_service.login(
        email=values["email"],
        password=values["password"],
        otp=values.get("otp") or None,
        client=client_info(request),
        passkey=values.get("passkey"),
    )
    return token_body(pair)


def direct_login(request) -> HttpResponse | None:
    """A sign-in with a plain body, plainly asked, without DRF's dispatch (gateway.direct; issue
    24). None for the rest, which TokenApi answers: a passkey, any body the plain reading does not
    vouch for. It decides before it signs anyone in: from then on it answers every outcome, the
    service's refusals raised to `answered_first` (a login is never tried twice)."""
    if not plain_json_request(request, "POST"):
        return None
    values = plain_login_input(json_of(request))  # None for NOT_JSON too: not a dict
    if values is None:
        return None
    return json_response(login_body(values, request))


class TokenApi(AnonymousApi):
    @classmethod
    def as_view(cls, **initkwargs):
        return answered_first(super().as_view(**initkwargs), direct_login)

    class InputSerializer(serializers.Serializer):
        email = StringField(max_length=254)
        password = StringField(**PASSWORD)
        otp = StringField(max_length=32, required=False, allow_blank=True)
        passkey = serializers.DictField(
            required=False,
            help_text="The second factor in place of `otp`: a passkey's toJSON(), answering the options of "
            "/auth/passkeys/login/options for this email.",
        )

    @extend_schema(operation_id="login", request=InputSerializer, responses={200: TokenOutput})
    def post(self, request):
        body = json_body(request)
        values = plain_login_input(body)
        if values is None:
            data = self.InputSerializer(data=body)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        return Response(login_body(values, request))


class TokenRefreshApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        refresh_token = StringField(max_length=256)

    @extend_schema(operation_id="refresh", request=InputSerializer, responses={200: TokenOutput})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = auth_service.refresh(refresh_token=data.validated_data["refresh_token"], client=client_info(request))
        return Response(token_body(pair))


class LogoutApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        refresh_token = StringField(max_length=256, required=False)

    @extend_schema(operation_id="logout", request=InputSerializer, responses={204: None})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if getattr(request.user, "is_authenticated", False):
            session_id = request.user.session_id
        elif data.validated_data.get("refresh_token"):
            session_id = auth_service.session_for_refresh_token(refresh_token=data.validated_data["refresh_token"])
        else:
            raise InvalidToken("Send the refresh token or a bearer access token.")
        auth_service.logout(session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    ip = serializers.CharField()
    user_agent = serializers.CharField()
    current = serializers.BooleanField()
    kind = serializers.CharField(
        help_text='"api", "browser" (hosted sign-in, SSO) or "oidc" (an application\'s access)'
    )
    client_id = serializers.CharField(help_text="The application holding the access (kind oidc)")
    client_name = serializers.CharField()


class SessionListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="list_sessions",
        responses={
            200: inline_serializer(
                "SessionList", {"results": SessionOutput(many=True), "next": serializers.CharField(allow_null=True)}
            )
        },
    )
    def get(self, request):
        sessions = auth_service.list_sessions(user_id=request.user.id)
        results = [SessionOutput({**vars_of(s), "current": s.id == request.user.session_id}).data for s in sessions]
        return Response({"results": results, "next": None})

    @extend_schema(
        operation_id="revoke_all_sessions",
        responses={200: inline_serializer("Revoked", {"revoked": serializers.IntegerField()})},
    )
    def delete(self, request):
        """Revoke every session but the current one."""
        count = auth_service.revoke_all_sessions(user_id=request.user.id, except_session_id=request.user.session_id)
        return Response({"revoked": count})


def vars_of(session) -> dict:
    fields = ("id", "created_at", "last_used_at", "expires_at", "ip", "user_agent", "kind", "client_id", "client_name")
    return {f: getattr(session, f) for f in fields}


class SessionDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="revoke_session", responses={204: None})
    def delete(self, request, session_id: uuid.UUID):
        auth_service.revoke_session(user_id=request.user.id, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        old_password = StringField(**PASSWORD)
        new_password = StringField(**PASSWORD)

    @extend_schema(operation_id="change_password", request=InputSerializer, responses={204: None})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth_service.change_password(user_id=request.user.id, session_id=request.user.session_id, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        email = StringField(max_length=254)

    @extend_schema(operation_id="request_password_reset", request=InputSerializer, responses={202: None})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth_service.request_password_reset(email=data.validated_data["email"], client=client_info(request))
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        token = StringField(max_length=256)
        new_password = StringField(**PASSWORD)

    @extend_schema(operation_id="confirm_password_reset", request=InputSerializer, responses={204: None})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth_service.confirm_password_reset(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpApi(APIView):
    permission_classes = [IsAuthenticated]

    class PasswordSerializer(serializers.Serializer):
        """Enrolling and removing a second factor re-authenticate with the password (docs/auth.md):
        a stolen access token alone must not lock its owner out."""

        password = StringField(**PASSWORD)

    @extend_schema(
        operation_id="enroll_totp",
        request=PasswordSerializer,
        responses={
            201: inline_serializer(
                "TotpEnrollment",
                {
                    "secret": serializers.CharField(),
                    "otpauth_uri": serializers.CharField(),
                    "recovery_codes": serializers.ListField(child=serializers.CharField()),
                },
            )
        },
    )
    def post(self, request):
        data = self.PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enrollment = auth_service.enroll_totp(user_id=request.user.id, password=data.validated_data["password"])
        body = {
            "secret": enrollment.secret,
            "otpauth_uri": enrollment.otpauth_uri,
            "recovery_codes": list(enrollment.recovery_codes),
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="disable_totp", request=PasswordSerializer, responses={204: None})
    def delete(self, request):
        """Turn TOTP off; the user's other sessions end."""
        data = self.PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth_service.disable_totp(
            user_id=request.user.id, password=data.validated_data["password"], session_id=request.user.session_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpConfirmApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        otp = StringField(max_length=32)

    @extend_schema(operation_id="confirm_totp", request=InputSerializer, responses={204: None})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auth_service.confirm_totp(
            user_id=request.user.id, otp=data.validated_data["otp"], session_id=request.user.session_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaRecoveryApi(APIView):
    """Lost the authenticator and the recovery codes: ask to remove the second factor. It goes
    after GATEHOUSE_MFA_RECOVERY_DELAY, at the next sign-in with the password alone, unless a
    sign-in with the factor cancels it first; the user is mailed at each step (docs/auth.md)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    class InputSerializer(serializers.Serializer):
        email = StringField(max_length=254)
        password = StringField(**PASSWORD)

    @extend_schema(
        operation_id="request_mfa_recovery",
        request=InputSerializer,
        responses={202: inline_serializer("MfaRecovery", {"effective_at": serializers.DateTimeField()})},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        effective_at = auth_service.request_mfa_recovery(**data.validated_data, client=client_info(request))
        return Response(
            {"effective_at": serializers.DateTimeField().to_representation(effective_at)},
            status=status.HTTP_202_ACCEPTED,
        )


class PasskeyOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    flagged_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Set when a sign-in showed its signature counter going backwards: it signs in no more.",
    )


def passkey_body(passkey) -> dict:
    return PasskeyOutput(passkey).data


# The options and responses of WebAuthn are the browser's JSON forms (base64url); docs/auth.md, "Passkeys".
WebauthnOptions = inline_serializer("WebauthnOptions", {"challenge": serializers.CharField()})
CREDENTIAL_HELP = "The PublicKeyCredential's toJSON() (base64url), as navigator.credentials gave it."


class PasskeyListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            200: inline_serializer(
                "PasskeyList", {"results": PasskeyOutput(many=True), "next": serializers.CharField(allow_null=True)}
            )
        }
    )
    def get(self, request):
        passkeys = auth_service.list_passkeys(user_id=request.user.id)
        return Response({"results": [passkey_body(p) for p in passkeys], "next": None})


class PasskeyRegisterOptionsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: WebauthnOptions})
    def post(self, request):
        """PublicKeyCredentialCreationOptions for navigator.credentials.create(), with a
        single-use challenge bound to the caller."""
        return Response(auth_service.passkey_registration_options(user_id=request.user.id))


class PasskeyRegisterApi(APIView):
    # Anonymous too: the first passkey of an account that must sign in with one answers the
    # options its refused sign-in carried (403 passkey_required; docs/auth.md, "Requiring a passkey").
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        credential = serializers.DictField(help_text=CREDENTIAL_HELP)
        name = StringField(max_length=100, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: PasskeyOutput})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        passkey = auth_service.register_passkey(
            user_id=request.user.id if getattr(request.user, "is_authenticated", False) else None,
            credential=data.validated_data["credential"],
            name=data.validated_data.get("name", ""),
        )
        return Response(passkey_body(passkey), status=status.HTTP_201_CREATED)


class PasskeyDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        name = StringField(max_length=100, required=False)

    @extend_schema(request=InputSerializer, responses={200: PasskeyOutput})
    def patch(self, request, passkey_id: uuid.UUID):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "name" not in data.validated_data:  # nothing to change
            passkey = next((p for p in auth_service.list_passkeys(user_id=request.user.id) if p.id == passkey_id), None)
            if passkey is None:
                raise PasskeyNotFound()
        else:
            passkey = auth_service.rename_passkey(
                user_id=request.user.id, passkey_id=passkey_id, name=data.validated_data["name"]
            )
        return Response(passkey_body(passkey))

    @extend_schema(responses={204: None})
    def delete(self, request, passkey_id: uuid.UUID):
        """Remove a passkey; 409 `last_sign_in_method` for the last one of an account without a password."""
        auth_service.remove_passkey(user_id=request.user.id, passkey_id=passkey_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasskeyLoginOptionsApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        email = StringField(max_length=254, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={200: WebauthnOptions})
    def post(self, request):
        """PublicKeyCredentialRequestOptions for navigator.credentials.get(). Without `email`, any
        discoverable passkey (conditional UI); with one, only that account's."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(auth_service.passkey_login_options(email=data.validated_data.get("email", "")))


class PasskeyLoginApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        credential = serializers.DictField(help_text=CREDENTIAL_HELP)

    @extend_schema(request=InputSerializer, responses={200: TokenOutput})
    def post(self, request):
        """401 `invalid_credentials` for every failure: unknown passkey, wrong origin or RP ID,
        spent or expired challenge, bad signature, counter gone backwards."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = auth_service.login_with_passkey(
            credential=data.validated_data["credential"], client=client_info(request)
        )
        return Response(token_body(pair))
