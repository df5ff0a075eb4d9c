from django.urls import path

from . import oidc_clients

urlpatterns = [
    path("clients", oidc_clients.ClientListApi.as_view(), name="oidc-clients"),
    path("clients/<str:client_id>", oidc_clients.ClientDetailApi.as_view(), name="oidc-client"),
]
