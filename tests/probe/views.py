"""Test-only views guarded by gateway.permissions: a plain Django view (the decorator) and DRF
views (RequiresPermission with a scope from the URL, and object-level checks)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpResponse, JsonResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway.permissions import OBJECT, RequiresPermission, permission_required


def _org(request, view) -> str:
    return f"org:{view.kwargs['org']}"


@permission_required("docs.page.read", scope=lambda request, view: request.GET.get("scope"))
def api_docs(request):
    return JsonResponse({"ok": True})


@permission_required("docs.page.read", scope=_org)
def api_org_docs(request, org):
    return JsonResponse({"org": org})


@permission_required("docs.page.read")
def html_docs(request):
    return HttpResponse("<p>docs</p>")


@dataclass(frozen=True)
class Doc:
    id: str
    rbac_scope: str | None


DOCS = {"a": Doc("a", "org:acme/project:1"), "b": Doc("b", "org:beta"), "g": Doc("g", None)}


class OrgDocsApi(APIView):
    permission_classes = [RequiresPermission({"GET": "docs.page.read", "*": "docs.page.write"}, scope=_org)]

    def get(self, request, org):
        return Response({"org": org})

    def post(self, request, org):
        return Response({"org": org, "written": True})


class DocApi(APIView):
    """The scope is known once the object is loaded."""

    permission_classes = [RequiresPermission("docs.page.read", scope=OBJECT)]

    def get(self, request, doc_id):
        doc = DOCS[doc_id]
        self.check_object_permissions(request, doc)
        return Response({"id": doc.id})
