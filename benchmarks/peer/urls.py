"""The peers' HTTP endpoints (scenario 2)."""

import json

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView


@csrf_exempt
def bare_check(request):
    """The ceiling: Django's request cycle, a JSON body parsed, a JSON answer, nothing else."""
    body = json.loads(request.body or b"{}")
    return JsonResponse({"allowed": bool(body.get("permission"))})


def hello(request):
    return JsonResponse({"hello": "world"})


class DrfCheck(APIView):
    """What users build today: DRF + simplejwt authentication + `user.has_perm` (ModelBackend)."""

    def post(self, request):
        permission = request.data.get("permission", "")
        return Response({"allowed": request.user.has_perm(permission)})


urlpatterns = [
    path("bare/check", bare_check),
    path("hello", hello),
    path("drf/check", DrfCheck.as_view()),
]
