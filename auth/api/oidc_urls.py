from django.urls import path

from . import oidc

urlpatterns = [
    path("authorize", oidc.authorize, name="oidc-authorize"),
    path("token", oidc.token, name="oidc-token"),
    path("userinfo", oidc.userinfo, name="oidc-userinfo"),
    path("revoke", oidc.revoke, name="oidc-revoke"),
    path("introspect", oidc.introspect, name="oidc-introspect"),
    path("logout", oidc.end_session, name="oidc-logout"),
]
