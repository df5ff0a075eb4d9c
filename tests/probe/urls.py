"""The gateway's routes plus the probe views that exercise gateway.permissions."""

from django.urls import path

from gateway.urls import urlpatterns as gateway_urlpatterns

from . import views

urlpatterns = [
    path("api/v1/probe/docs", views.api_docs),
    path("api/v1/probe/orgs/<str:org>/docs", views.api_org_docs),
    path("api/v1/probe/drf/orgs/<str:org>/docs", views.OrgDocsApi.as_view()),
    path("api/v1/probe/drf/docs/<str:doc_id>", views.DocApi.as_view()),
    path("probe/docs", views.html_docs),
    *gateway_urlpatterns,
]
