"""REST endpoints of /api/v1/users/ (docs/auth.md)."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth.interface import auth_service
from gateway.direct import answered_first, json_response, plain_request
from gateway.fields import StringField
from gateway.permissions import RequiresPermission, user_escalation_check
from project.pagination import PageInput, paged
from users.interface import user_service


class UserOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    is_verified = serializers.BooleanField()
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    mfa_enabled = serializers.BooleanField()


_DATE_JOINED = serializers.DateTimeField()


def user_body(user, *, mfa_enabled: bool | None = None) -> dict:
    """UserOutput's rendering of `user`, written out: the serializer's copy of its declared fields
    for every instance cost GET /users/me ~0.2 ms (issue 24); tests/users check they agree."""
    if mfa_enabled is None:
        mfa_enabled = auth_service.mfa_enabled(user_id=user.id)
    return {
        "id": str(user.id),
        "email": str(user.email),
        "display_name": str(user.display_name),
        "is_verified": bool(user.is_verified),
        "is_active": bool(user.is_active),
        "date_joined": _DATE_JOINED.to_representation(user.date_joined),
        "mfa_enabled": bool(mfa_enabled),
    }


class RegisterApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        email = StringField(max_length=254)
        password = StringField(max_length=4096, trim_whitespace=False)
        display_name = StringField(max_length=150, required=False, allow_blank=True, default="")

    @extend_schema(operation_id="create_user", request=InputSerializer, responses={201: UserOutput})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The verification mail follows from the users.user_registered event (auth's handler).
        user = user_service.create_user(**data.validated_data)
        # A new account has no second factor: no further call that could fail after the commit
        # (a 503 there would answer a registration that happened, and the retry would get 409).
        return Response(user_body(user, mfa_enabled=False), status=status.HTTP_201_CREATED)


def direct_me(request) -> HttpResponse | None:
    """GET /users/me without DRF's dispatch, for a plain request (gateway.direct; issue 24)."""
    principal = plain_request(request, "GET")
    if principal is None:
        return None
    return json_response(user_body(user_service.get_user(user_id=principal.user_id)))


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @classmethod
    def as_view(cls, **initkwargs):
        return answered_first(super().as_view(**initkwargs), direct_me)

    class InputSerializer(serializers.Serializer):
        # The only field a user changes on their own profile here; email changes need
        # re-verification and come with their own flow.
        display_name = StringField(max_length=150, allow_blank=True)

    @extend_schema(operation_id="get_me", responses={200: UserOutput})
    def get(self, request):
        return Response(user_body(user_service.get_user(user_id=request.user.id)))

    @extend_schema(operation_id="update_me", request=InputSerializer, responses={200: UserOutput})
    def patch(self, request):
        if isinstance(request.data, dict) and "email" in request.data:
            # Said, not silently ignored (issue 16, item 13).
            raise serializers.ValidationError(
                {
                    "email": [
                        "The email is not changed here: a user manager changes it (PATCH /api/v1/users/{id}), "
                        "and it takes effect once the link mailed to the new address is followed."
                    ]
                }
            )
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = user_service.update_user(user_id=request.user.id, **data.validated_data)
        return Response(user_body(user))


class UserListApi(APIView):
    permission_classes = [RequiresPermission("users.user.view")]

    class FilterSerializer(PageInput):
        search = serializers.CharField(required=False, max_length=254, allow_blank=True)
        is_active = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(
        operation_id="list_users", parameters=[FilterSerializer], responses={200: paged("UserPage", UserOutput)}
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = user_service.list_users(**{k: v for k, v in filters.validated_data.items() if v not in (None, "")})
        return Response({"results": [user_body(u) for u in page.results], "next": page.next})


class UserDetailApi(APIView):
    permission_classes = [RequiresPermission({"GET": "users.user.view", "*": "users.user.manage"})]

    class InputSerializer(serializers.Serializer):
        email = StringField(max_length=254, required=False)
        display_name = StringField(max_length=150, allow_blank=True, required=False)
        is_verified = serializers.BooleanField(required=False)

    @extend_schema(operation_id="get_user", responses={200: UserOutput})
    def get(self, request, user_id: uuid.UUID):
        return Response(user_body(user_service.get_user(user_id=user_id)))

    @extend_schema(operation_id="update_user", request=InputSerializer, responses={200: UserOutput})
    def patch(self, request, user_id: uuid.UUID):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_service.get_user(user_id=user_id)  # 404 before 403 for a user who does not exist
        user_escalation_check(actor_id=request.user.id, user_id=user_id)
        return Response(user_body(user_service.update_user(user_id=user_id, **data.validated_data)))

    @extend_schema(operation_id="deactivate_user", responses={204: None})
    def delete(self, request, user_id: uuid.UUID):
        """Soft delete: deactivates the account and revokes its sessions."""
        user_service.get_user(user_id=user_id)
        user_escalation_check(actor_id=request.user.id, user_id=user_id)
        user_service.deactivate_user(user_id=user_id)
        # At once, not only when the users.user_deactivated handler gets to it (with a broker,
        # in a worker, later): the answer to this call is the moment its tokens stop working.
        auth_service.revoke_all_sessions(user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
