"""REST endpoints of /api/v1/notifications (docs/notifications.md).

Every view goes through `notification_service`, like any other caller. The inbox, its counts and
the preferences are the caller's own; a message of another user answers 404, as a missing one.
"""

from __future__ import annotations

from collections import Counter

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway.permissions import RequiresPermission
from notifications.interface import (
    DELIVERY_STATUSES,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_RECIPIENTS,
    InvalidNotification,
    Preference,
    notification_service,
)
from project.pagination import PageInput, offset_page, paged

SEND = "notifications.notification.send"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# The recipient fields of the service's errors, which the API nests under `recipients`.
RECIPIENT_FIELDS = ("user_ids", "group_id", "role", "scope")
MAX_PREFERENCES = 200
MAX_CLIENT_KEY_LENGTH = MAX_IDEMPOTENCY_KEY_LENGTH - len("api::") - 36  # a key is stored with its sender


# --- The inbox -------------------------------------------------------------------------------------


class InboxMessageOutput(serializers.Serializer):
    id = serializers.UUIDField(help_text="The in-app message's id: what POST /{id}/read takes.")
    notification_id = serializers.UUIDField()
    type = serializers.CharField()
    subject = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    is_read = serializers.BooleanField()


class InboxApi(APIView):
    permission_classes = [IsAuthenticated]

    class FilterInput(PageInput):
        unread = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="list_inbox",
        parameters=[FilterInput],
        responses={200: paged("InboxPage", InboxMessageOutput)},
    )
    def get(self, request):
        params = self.FilterInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = notification_service.list_inbox(
            user_id=request.user.id,
            unread_only=params.validated_data["unread"],
            limit=params.validated_data["limit"],
            cursor=params.validated_data.get("cursor"),
        )
        return Response({"results": InboxMessageOutput(page.results, many=True).data, "next": page.next})


class UnreadCountApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="count_unread",
        responses={200: inline_serializer("UnreadCount", {"count": serializers.IntegerField()})},
    )
    def get(self, request):
        return Response({"count": notification_service.count_unread(user_id=request.user.id)})


class ReadApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="mark_read", request=None, responses={204: None})
    def post(self, request, message_id):
        notification_service.mark_read(user_id=request.user.id, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadAllApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="mark_all_read", request=None, responses={204: None})
    def post(self, request):
        notification_service.mark_all_read(user_id=request.user.id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Preferences -----------------------------------------------------------------------------------


class PreferenceOutput(serializers.Serializer):
    type = serializers.CharField()
    channel = serializers.CharField()
    enabled = serializers.BooleanField()
    mandatory = serializers.BooleanField()


class PreferencesApi(APIView):
    permission_classes = [IsAuthenticated]

    class PreferenceInput(serializers.Serializer):
        type = serializers.CharField(max_length=64)
        channel = serializers.CharField(max_length=16)
        enabled = serializers.BooleanField()

    class InputSerializer(serializers.Serializer):
        preferences = serializers.ListField(child=serializers.DictField(), max_length=MAX_PREFERENCES)

    @staticmethod
    def _body(preferences: list[Preference]) -> dict:
        return {"preferences": PreferenceOutput(preferences, many=True).data}

    @extend_schema(
        operation_id="get_preferences",
        responses={200: inline_serializer("Preferences", {"preferences": PreferenceOutput(many=True)})},
    )
    def get(self, request):
        return Response(self._body(notification_service.get_preferences(user_id=request.user.id)))

    @extend_schema(
        operation_id="set_preferences",
        request=inline_serializer("PreferencesUpdate", {"preferences": PreferenceInput(many=True)}),
        responses={200: inline_serializer("PreferencesUpdated", {"preferences": PreferenceOutput(many=True)})},
    )
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        problems: dict[str, dict] = {}
        wanted = []
        for index, item in enumerate(data.validated_data["preferences"]):
            entry = self.PreferenceInput(data=item)
            if not entry.is_valid():
                problems[str(index)] = entry.errors
                continue
            wanted.append(Preference(**entry.validated_data))
        if problems:
            raise ValidationError({"preferences": problems})
        return Response(self._body(notification_service.set_preferences(user_id=request.user.id, preferences=wanted)))


# --- Sending ---------------------------------------------------------------------------------------


class SendApi(APIView):
    permission_classes = [RequiresPermission(SEND)]

    class RecipientsInput(serializers.Serializer):
        user_ids = serializers.ListField(
            child=serializers.UUIDField(), required=False, allow_empty=False, max_length=MAX_RECIPIENTS
        )
        group_id = serializers.UUIDField(required=False)
        role = serializers.CharField(required=False, max_length=100)
        scope = serializers.CharField(required=False, max_length=500, allow_blank=True)

        def validate(self, attrs):
            if not any(field in attrs for field in ("user_ids", "group_id", "role")):
                raise ValidationError({"non_field_errors": ["Give user_ids, group_id or role."]})
            if "scope" in attrs and "role" not in attrs:
                raise ValidationError({"scope": ["Only with role."]})
            return attrs

    class InputSerializer(serializers.Serializer):
        type = serializers.CharField(max_length=64)
        recipients = serializers.DictField()
        context = serializers.DictField(required=False, default=dict)
        channels = serializers.ListField(
            child=serializers.CharField(max_length=32), required=False, allow_empty=False, max_length=8
        )

    @extend_schema(
        operation_id="send_notification",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The same key never sends twice: a repeat answers as the first call did.",
            )
        ],
        request=inline_serializer(
            "SendRequest",
            {
                "type": serializers.CharField(),
                "recipients": RecipientsInput(),
                "context": serializers.DictField(child=serializers.CharField(), required=False),
                "channels": serializers.ListField(child=serializers.CharField(), required=False),
            },
        ),
        responses={202: inline_serializer("SendAccepted", {"id": serializers.UUIDField()})},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        recipients = self.RecipientsInput(data=data.validated_data["recipients"])
        if not recipients.is_valid():
            raise ValidationError({"recipients": recipients.errors})
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None:
            if not 1 <= len(key) <= MAX_CLIENT_KEY_LENGTH:
                raise ValidationError({IDEMPOTENCY_HEADER: [f"1 to {MAX_CLIENT_KEY_LENGTH} characters."]})
            # Each sender has their own keys: another's key neither collides nor reveals an id.
            key = f"api:{request.user.id}:{key}"
        try:
            notification_id = notification_service.send_notification(
                type=data.validated_data["type"],
                context=data.validated_data["context"],
                channels=data.validated_data.get("channels"),
                idempotency_key=key,
                **recipients.validated_data,
            )
        except InvalidNotification as exc:
            details = dict(exc.details)
            nested = {field: details.pop(field) for field in RECIPIENT_FIELDS if field in details}
            if "recipients" in details:
                nested["non_field_errors"] = details.pop("recipients")
            if nested:
                details["recipients"] = nested
            raise InvalidNotification(exc.message, details=details) from None
        return Response({"id": notification_id}, status=status.HTTP_202_ACCEPTED)


# --- Deliveries ------------------------------------------------------------------------------------


class DeliveryOutput(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    channel = serializers.CharField()
    status = serializers.ChoiceField(choices=DELIVERY_STATUSES)
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class DeliveriesApi(APIView):
    permission_classes = [RequiresPermission(SEND)]

    class FilterInput(PageInput):
        status = serializers.ChoiceField(choices=DELIVERY_STATUSES, required=False)
        user_id = serializers.UUIDField(required=False)
        channel = serializers.CharField(required=False, max_length=16)

    @extend_schema(
        operation_id="get_deliveries",
        parameters=[FilterInput],
        responses={
            200: paged(
                "DeliveryPage",
                DeliveryOutput,
                notification_id=serializers.UUIDField(),
                counts=serializers.DictField(
                    child=serializers.IntegerField(), help_text="Deliveries per status (all of them, unfiltered)."
                ),
            )
        },
    )
    def get(self, request, notification_id):
        params = self.FilterInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        deliveries = notification_service.get_deliveries(notification_id=notification_id)
        counts = Counter(delivery.status for delivery in deliveries)
        selected = [
            delivery
            for delivery in deliveries
            if all(filters.get(f) in (None, getattr(delivery, f)) for f in ("status", "user_id", "channel"))
        ]
        page, next_cursor = offset_page(selected, limit=filters["limit"], cursor=filters.get("cursor"))
        return Response(
            {
                "notification_id": notification_id,
                "counts": {status_: counts.get(status_, 0) for status_ in DELIVERY_STATUSES},
                "results": DeliveryOutput(page, many=True).data,
                "next": next_cursor,
            }
        )
