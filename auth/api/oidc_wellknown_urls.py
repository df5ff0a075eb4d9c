from django.urls import path

from . import oidc

urlpatterns = [path("openid-configuration", oidc.discovery, name="oidc-discovery")]
