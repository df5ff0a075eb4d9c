"""REST endpoints of /api/v1/orgs (docs/orgs.md).

Thin: every authorization decision (visibility as 404, roles, escalation, the last owner) is the
org service's, so that it holds over gRPC too. The views only parse, call and shape, and enforce the
org's `require_mfa` (gateway.orgs): each org route enters the org first (404 for whoever may not
see it), then refuses a caller without a second factor (403 `mfa_required`), but for reading the
org and leaving it."""

from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway.fields import StringField
from gateway.orgs import enter_org, may_require_mfa
from notifications.interface import MAX_IDEMPOTENCY_KEY_LENGTH, InvalidNotification, notification_service
from project.pagination import PageInput, paged
from users.interface.orgs import DOMAIN_JOIN_MODES, NAME_MAX, ORG_ROLES, SLUG_MAX, org_service

SLUG_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"


class OrgOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    require_mfa = serializers.BooleanField()
    domain_join = serializers.ChoiceField(choices=DOMAIN_JOIN_MODES)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MyOrgOutput(OrgOutput):
    role = serializers.ChoiceField(choices=ORG_ROLES, help_text="My role in the org.")
    joined_at = serializers.DateTimeField()


class MemberOutput(serializers.Serializer):
    user_id = serializers.UUIDField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    role = serializers.ChoiceField(choices=ORG_ROLES)
    joined_at = serializers.DateTimeField()


class MemberRoleOutput(serializers.Serializer):
    id = serializers.UUIDField(help_text="The RBAC assignment's id.")
    role_id = serializers.UUIDField()
    role_name = serializers.CharField()
    user_id = serializers.UUIDField()
    created_at = serializers.DateTimeField()


class InvitationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    org_id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ORG_ROLES)
    status = serializers.ChoiceField(choices=["pending", "accepted", "revoked", "expired"])
    invited_by = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    sent_count = serializers.IntegerField()


def org_body(org) -> dict:
    return OrgOutput(org).data


def my_org_body(membership) -> dict:
    return MyOrgOutput(
        {**OrgOutput(membership.org).data, "role": membership.role, "joined_at": membership.joined_at}
    ).data


class OrgListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        name = StringField(max_length=NAME_MAX)
        # Letters are lower-cased by the service, so the schema admits both cases.
        slug = StringField(
            max_length=SLUG_MAX,
            validators=[RegexValidator(SLUG_PATTERN)],
            help_text="Letters, digits and inner hyphens (stored lower case); unique.",
        )

    @extend_schema(operation_id="list_orgs", parameters=[PageInput], responses={200: paged("OrgPage", MyOrgOutput)})
    def get(self, request):
        page_input = PageInput(data=request.query_params)
        page_input.is_valid(raise_exception=True)
        page = org_service.list_orgs(user_id=request.user.id, **page_input.validated_data)
        return Response({"results": [my_org_body(m) for m in page.results], "next": page.next})

    @extend_schema(operation_id="create_org", request=InputSerializer, responses={201: OrgOutput})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = org_service.create_org(actor_id=request.user.id, **data.validated_data)
        return Response(org_body(org), status=status.HTTP_201_CREATED)


class OrgDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        name = StringField(max_length=NAME_MAX, required=False)
        require_mfa = serializers.BooleanField(required=False)
        domain_join = serializers.ChoiceField(
            choices=DOMAIN_JOIN_MODES,
            required=False,
            help_text="Who may join by the verified domain of their verified email: off, allow (they join "
            "themselves) or auto (they are made members).",
        )

    @extend_schema(operation_id="get_org", responses={200: OrgOutput})
    def get(self, request, org_id: uuid.UUID):
        """Readable without a second factor even when the org requires one: it says why (`require_mfa`)."""
        return Response(org_body(enter_org(user_id=request.user.id, org_id=org_id, exempt=True)))

    @extend_schema(operation_id="update_org", request=InputSerializer, responses={200: OrgOutput})
    def patch(self, request, org_id: uuid.UUID):
        org = enter_org(user_id=request.user.id, org_id=org_id)  # 404 before 400 for an outsider
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("require_mfa") and not org.require_mfa:
            may_require_mfa(user_id=request.user.id, org=org)
        org = org_service.update_org(actor_id=request.user.id, org_id=org_id, **data.validated_data)
        return Response(org_body(org))

    @extend_schema(operation_id="delete_org", responses={204: None})
    def delete(self, request, org_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        org_service.delete_org(actor_id=request.user.id, org_id=org_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="list_members", parameters=[PageInput], responses={200: paged("MemberPage", MemberOutput)}
    )
    def get(self, request, org_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        page_input = PageInput(data=request.query_params)
        page_input.is_valid(raise_exception=True)
        page = org_service.list_members(actor_id=request.user.id, org_id=org_id, **page_input.validated_data)
        return Response({"results": MemberOutput(page.results, many=True).data, "next": page.next})


class MemberDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=ORG_ROLES)

    @extend_schema(operation_id="update_member", request=InputSerializer, responses={200: MemberOutput})
    def patch(self, request, org_id: uuid.UUID, user_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = org_service.update_member(
            actor_id=request.user.id, org_id=org_id, user_id=user_id, role=data.validated_data["role"]
        )
        return Response(MemberOutput(member).data)

    @extend_schema(operation_id="remove_member", responses={204: None})
    def delete(self, request, org_id: uuid.UUID, user_id: uuid.UUID):
        """Remove a member (yourself: leave). Their grants in the org's scope end at once. Leaving
        needs no second factor, even where the org requires one."""
        enter_org(user_id=request.user.id, org_id=org_id, exempt=user_id == request.user.id)
        org_service.remove_member(actor_id=request.user.id, org_id=org_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberRoleListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        role_id = serializers.UUIDField()

    @extend_schema(operation_id="list_member_roles", responses={200: MemberRoleOutput(many=True)})
    def get(self, request, org_id: uuid.UUID, user_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        grants = org_service.list_member_roles(actor_id=request.user.id, org_id=org_id, user_id=user_id)
        return Response(MemberRoleOutput(grants, many=True).data)

    @extend_schema(operation_id="grant_member_role", request=InputSerializer, responses={201: MemberRoleOutput})
    def post(self, request, org_id: uuid.UUID, user_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = org_service.grant_member_role(
            actor_id=request.user.id, org_id=org_id, user_id=user_id, role_id=data.validated_data["role_id"]
        )
        return Response(MemberRoleOutput(grant).data, status=status.HTTP_201_CREATED)


class MemberRoleDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="revoke_member_role", responses={204: None})
    def delete(self, request, org_id: uuid.UUID, user_id: uuid.UUID, grant_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        org_service.revoke_member_role(actor_id=request.user.id, org_id=org_id, user_id=user_id, grant_id=grant_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        email = StringField(max_length=254)
        role = serializers.ChoiceField(choices=ORG_ROLES, default="member")

    @extend_schema(
        operation_id="list_invitations",
        parameters=[PageInput],
        responses={200: paged("InvitationPage", InvitationOutput)},
    )
    def get(self, request, org_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        page_input = PageInput(data=request.query_params)
        page_input.is_valid(raise_exception=True)
        page = org_service.list_invitations(actor_id=request.user.id, org_id=org_id, **page_input.validated_data)
        return Response({"results": InvitationOutput(page.results, many=True).data, "next": page.next})

    @extend_schema(operation_id="create_invitation", request=InputSerializer, responses={201: InvitationOutput})
    def post(self, request, org_id: uuid.UUID):
        """Invite an email with a role; the link with the token goes by mail, never in this answer."""
        enter_org(user_id=request.user.id, org_id=org_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _token = org_service.create_invitation(
            actor_id=request.user.id, org_id=org_id, **data.validated_data
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="revoke_invitation", responses={204: None})
    def delete(self, request, org_id: uuid.UUID, invitation_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        org_service.revoke_invitation(actor_id=request.user.id, org_id=org_id, invitation_id=invitation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationResendApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="resend_invitation", request=None, responses={200: InvitationOutput})
    def post(self, request, org_id: uuid.UUID, invitation_id: uuid.UUID):
        """Mail the invitation again with a new link (the old one stops working) and a new expiry."""
        enter_org(user_id=request.user.id, org_id=org_id)
        invitation, _token = org_service.resend_invitation(
            actor_id=request.user.id, org_id=org_id, invitation_id=invitation_id
        )
        return Response(InvitationOutput(invitation).data)


class InvitationAcceptApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        token = StringField(max_length=512)

    @extend_schema(operation_id="accept_invitation", request=InputSerializer, responses={200: MyOrgOutput})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = org_service.accept_invitation(user_id=request.user.id, token=data.validated_data["token"])
        return Response(my_org_body(membership))


IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_CLIENT_KEY_LENGTH = MAX_IDEMPOTENCY_KEY_LENGTH - len("api::") - 36  # stored as api:<sender>:<key>


class OrgNotificationApi(APIView):
    """Notify an org's members, or the holders of a role among them (docs/orgs.md, Notifications):
    the notification service's send, with the org as the recipients. Admins and owners of the org
    (`orgs.notification.send` in its scope); an outsider gets 404, a member 403."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        type = serializers.CharField(max_length=64)
        role = serializers.CharField(
            max_length=100,
            required=False,
            help_text="owner, admin, member (that role itself), or a custom role granted in the org's scope. "
            "Absent: every member.",
        )
        context = serializers.DictField(required=False, default=dict)
        channels = serializers.ListField(
            child=serializers.CharField(max_length=32), required=False, allow_empty=False, max_length=8
        )

    @extend_schema(
        operation_id="notify_org_members",
        request=InputSerializer,
        responses={202: inline_serializer("OrgSendAccepted", {"id": serializers.UUIDField()})},
    )
    def post(self, request, org_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)  # 404 for an outsider, then the org's require_mfa
        org_service.authorize_notification(actor_id=request.user.id, org_id=org_id)  # 403 before 400
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None:
            if not 1 <= len(key) <= MAX_CLIENT_KEY_LENGTH:
                raise ValidationError({IDEMPOTENCY_HEADER: [f"1 to {MAX_CLIENT_KEY_LENGTH} characters."]})
            key = f"api:{request.user.id}:{key}"  # the sender's own keys, as on /api/v1/notifications/send
        try:
            notification_id = notification_service.send_notification(
                type=data.validated_data["type"],
                context=data.validated_data["context"],
                channels=data.validated_data.get("channels"),
                idempotency_key=key,
                org_id=org_id,
                org_role=data.validated_data.get("role"),
            )
        except InvalidNotification as exc:
            details = dict(exc.details)
            if "org_role" in details:
                details["role"] = details.pop("org_role")
            if "recipients" in details:  # nobody holds that role in the org
                details["role"] = details.pop("recipients")
            raise InvalidNotification(exc.message, details=details) from None
        return Response({"id": notification_id}, status=status.HTTP_202_ACCEPTED)


# --- Verified domains and joining by domain -------------------------------------------------------


class DomainOutput(serializers.Serializer):
    id = serializers.UUIDField()
    org_id = serializers.UUIDField()
    domain = serializers.CharField(help_text="A-labels, lower case, no trailing dot.")
    record = serializers.CharField(help_text="The TXT record's name: _gatehouse-challenge.<domain>.")
    status = serializers.ChoiceField(choices=["pending", "verified"])
    verified_at = serializers.DateTimeField(allow_null=True)
    verified_by = serializers.CharField(help_text="dns, operator, or empty while pending.")
    created_at = serializers.DateTimeField()


class IssuedDomainOutput(DomainOutput):
    token = serializers.CharField(help_text="The TXT record's value. Shown only in this answer.")


def domain_body(domain) -> dict:
    return DomainOutput(
        {
            **{f: getattr(domain, f) for f in ("id", "org_id", "domain", "record", "verified_at", "verified_by")},
            "created_at": domain.created_at,
            "status": "verified" if domain.verified_at else "pending",
        }
    ).data


class DomainListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        domain = StringField(max_length=1000, help_text="e.g. example.com; IDNs are stored as A-labels.")

    @extend_schema(operation_id="list_domains", responses={200: DomainOutput(many=True)})
    def get(self, request, org_id: uuid.UUID):
        enter_org(user_id=request.user.id, org_id=org_id)
        domains = org_service.list_domains(actor_id=request.user.id, org_id=org_id)
        return Response([domain_body(d) for d in domains])

    @extend_schema(operation_id="add_domain", request=InputSerializer, responses={201: IssuedDomainOutput})
    def post(self, request, org_id: uuid.UUID):
        """Claim a domain; publish the answer's `token` as TXT `record`, then verify."""
        enter_org(user_id=request.user.id, org_id=org_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        domain, token = org_service.add_domain(
            actor_id=request.user.id, org_id=org_id, domain=data.validated_data["domain"]
        )
        return Response({**domain_body(domain), "token": token}, status=status.HTTP_201_CREATED)


class DomainDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="delete_domain", responses={204: None})
    def delete(self, request, org_id: uuid.UUID, domain_id: uuid.UUID):
        """Remove a domain; members who joined by it stay members."""
        enter_org(user_id=request.user.id, org_id=org_id)
        org_service.delete_domain(actor_id=request.user.id, org_id=org_id, domain_id=domain_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainVerifyApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="verify_domain", request=None, responses={200: DomainOutput})
    def post(self, request, org_id: uuid.UUID, domain_id: uuid.UUID):
        """Look up the TXT record now: 200 verified, 409 `domain_verification_failed` (`details.reason`
        missing or mismatch), 409 `domain_taken`, 503 `dns_unavailable`."""
        enter_org(user_id=request.user.id, org_id=org_id)
        domain = org_service.verify_domain(actor_id=request.user.id, org_id=org_id, domain_id=domain_id)
        return Response(domain_body(domain))


class JoinableOrgListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="list_joinable_orgs", responses={200: OrgOutput(many=True)})
    def get(self, request):
        """The orgs I may join by the verified domain of my verified email."""
        return Response([org_body(org) for org in org_service.list_joinable_orgs(user_id=request.user.id)])


class OrgJoinApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="join_org", request=None, responses={200: MyOrgOutput})
    def post(self, request, org_id: uuid.UUID):
        """Join as `member` by domain; 404 for an org not in my joinable list."""
        membership = org_service.join_org(user_id=request.user.id, org_id=org_id)
        return Response(my_org_body(membership))
