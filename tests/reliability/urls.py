"""A URLconf for the error-handling test: the project's routes plus one view that fails."""

from django.urls import path

from gateway.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("internal detail: postgres://admin:hunter2@db/gatehouse")


urlpatterns = [path("api/v1/boom", boom), *project_urlpatterns]
