from django.http import HttpResponse
from django.urls import include, path


def whoami(request):
    if not request.user.is_authenticated:
        return HttpResponse("<p id='who'>anonymous</p>")
    return HttpResponse(f"<p id='who'>signed in as {request.user.email}</p>")


def failed(request):
    return HttpResponse("<p id='who'>sign-in failed</p>", status=401)


urlpatterns = [
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("whoami", whoami),
    path("failed", failed),
]
