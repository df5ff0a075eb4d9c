"""`/api/v1/oidc/clients` (docs/oidc.md): OpenID Connect clients, for holders of `oidc.client.manage`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from auth.interface.oidc import OidcClient, oidc_provider
from gateway.fields import StringField
from gateway.permissions import RequiresPermission

MANAGE = "oidc.client.manage"


class ClientOutput(serializers.Serializer):
    client_id = serializers.CharField()
    name = serializers.CharField()
    public = serializers.BooleanField()
    first_party = serializers.BooleanField()
    redirect_uris = serializers.ListField(child=serializers.CharField())
    post_logout_redirect_uris = serializers.ListField(child=serializers.CharField())
    grant_types = serializers.ListField(child=serializers.CharField())
    permissions_scope = serializers.CharField()
    created_at = serializers.DateTimeField()


def client_body(client: OidcClient) -> dict:
    return ClientOutput(
        {
            **{f: getattr(client, f) for f in ("client_id", "name", "public", "first_party", "permissions_scope")},
            "redirect_uris": list(client.redirect_uris),
            "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
            "grant_types": list(client.grant_types),
            "created_at": client.created_at,
        }
    ).data


class ClientListApi(APIView):
    permission_classes = [RequiresPermission(MANAGE)]

    class InputSerializer(serializers.Serializer):
        name = StringField(max_length=200)
        redirect_uris = serializers.ListField(child=StringField(max_length=2000), max_length=20, default=list)
        post_logout_redirect_uris = serializers.ListField(
            child=StringField(max_length=2000), max_length=20, default=list
        )
        public = serializers.BooleanField(default=False)
        grant_types = serializers.ListField(child=StringField(max_length=40), max_length=3, required=False)
        first_party = serializers.BooleanField(default=False)
        permissions_scope = StringField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="list_clients",
        responses={
            200: inline_serializer(
                "OidcClientList", {"results": ClientOutput(many=True), "next": serializers.CharField(allow_null=True)}
            )
        },
    )
    def get(self, request):
        return Response({"results": [client_body(c) for c in oidc_provider.list_clients()], "next": None})

    @extend_schema(
        operation_id="create_client",
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "NewOidcClient", {"client": ClientOutput(), "client_secret": serializers.CharField(allow_null=True)}
            )
        },
    )
    def post(self, request):
        """Register a client. `client_secret` is in this answer only (none for a public client)."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = oidc_provider.create_client(**data.validated_data, created_by=request.user.id)
        body = {"client": client_body(created.client), "client_secret": created.client_secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ClientDetailApi(APIView):
    permission_classes = [RequiresPermission(MANAGE)]

    @extend_schema(operation_id="get_client", responses={200: ClientOutput})
    def get(self, request, client_id: str):
        found = [c for c in oidc_provider.list_clients() if c.client_id == client_id]
        if not found:
            from auth.interface.oidc import OidcClientNotFound

            raise OidcClientNotFound()
        return Response(client_body(found[0]))

    @extend_schema(operation_id="delete_client", responses={204: None})
    def delete(self, request, client_id: str):
        """Remove the client and end every grant it holds."""
        oidc_provider.delete_client(client_id=client_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
