"""The peers' HTTP endpoints (scenario 2)."""

import json

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
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


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField()
    is_active = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class DrfMe(APIView):
    """The same read as Gatehouse's GET /users/me, as users build it: simplejwt loads the user's row
    (one query) and a DRF serializer renders it. (Gatehouse also reads whether MFA is on.)"""

    def get(self, request):
        return Response(MeOutput(request.user).data)


urlpatterns = [
    path("bare/check", bare_check),
    path("hello", hello),
    path("drf/check", DrfCheck.as_view()),
    path("drf/me", DrfMe.as_view()),
]
