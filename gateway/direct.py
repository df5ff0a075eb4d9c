"""A hot endpoint's plain case answered without DRF's dispatch, DRF's view answering the rest.

DRF's dispatch (its Request, authentication, permission classes, content negotiation, the
Response and its renderer) cost about 160 µs of a permission check's 560 in one process, more than
the check itself (docs/benchmarks.md, issue 24). For a request that is plainly what nearly every
client sends (a verified bearer token where the endpoint authenticates, `Content-Type:
application/json` exactly, an `Accept` that JSON satisfies, no query string), the endpoint's
`direct` function answers with the same status, headers and body DRF would give. Anything else
(every error of DRF's own, an odd header, a body that is not plainly valid) is left to the DRF
view, so it is answered exactly as before: `direct` returns None for it. An error `direct` raises
(a domain error of the service it calls) is answered as DRF's view answers it, by the API's
exception handler. tests/permissions/test_check_direct.py and tests/auth/test_login_direct.py
compare the two answers.

The DRF view stays the URL's view for everything else that reads it: the OpenAPI schema
(`cls`, `initkwargs`), CSRF exemption, OPTIONS.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from gateway.authentication import AuthenticatedUser
from gateway.errors import exception_handler
from gateway.parsers import JsonNegotiation, JSONParser, loads

# What `direct` gets when the body is not plainly JSON (None is JSON's null).
NOT_JSON = object()

_RENDERER = JSONRenderer()

Direct = Callable[..., HttpResponse | None]


def answered_first(drf_view, direct: Direct):
    """`drf_view` (an APIView's `as_view()`) with `direct(request, *args, **kwargs)` asked first."""
    instance = drf_view.cls(**drf_view.initkwargs)
    instance.setup(None)  # as for each request: HEAD is served by `get`
    allow = ", ".join(instance.allowed_methods)  # the header DRF sets on each of its answers

    @functools.wraps(drf_view)  # its attributes too: cls, initkwargs, csrf_exempt
    def view(request, *args, **kwargs):
        try:
            response = direct(request, *args, **kwargs)
        except Exception as exc:  # as DRF's handle_exception: the envelope, or Django's 500 path
            response = exception_handler(exc, {"request": request, "view": None})
            if response is None:
                raise
            _as_drf_renders(response)
        if response is None:
            return drf_view(request, *args, **kwargs)
        response["Allow"] = allow
        return response

    return view


def plain_request(request: HttpRequest, method: str):
    """The verified principal of a request DRF would authenticate and render as JSON without a
    question, or None: a valid bearer token (the edge read it), and `plain_json_request`."""
    edge = getattr(request, "edge_principal", None)
    if edge is None or edge.principal is None or not plain_json_request(request, method):
        return None
    request.user = AuthenticatedUser(principal=edge.principal)  # as DRF's authentication sets it
    return edge.principal


def plain_json_request(request: HttpRequest, method: str) -> bool:
    """Whether DRF would render the answer to `request` as JSON without a question: the method, an
    `Accept` the fast negotiation takes, no query string (`?format=`), and for a POST the JSON
    content type with no parameters (a GET's body is not read). Alone, it is the whole plain
    request of an endpoint that authenticates nobody (no authentication classes, AllowAny: the
    login): DRF's dispatch sets only `request.user` and `request.auth` there, both None, which
    such a view does not read."""
    return (
        request.method == method
        and (method != "POST" or request.META.get("CONTENT_TYPE") == JSONParser.media_type)
        and request.META.get("HTTP_ACCEPT", "") in JsonNegotiation.FAST_ACCEPT
        and not request.META.get("QUERY_STRING")
    )


def json_of(request: HttpRequest):
    """The body parsed as DRF's JSON parser parses it (the default charset, strict constants), or
    NOT_JSON for whatever it would not parse cleanly (DRF's view then gives its error)."""
    try:
        return loads(request.body, settings.DEFAULT_CHARSET)
    except (ValueError, RecursionError, RequestDataTooBig):
        return NOT_JSON


def json_response(data) -> HttpResponse:
    """A 200 with `data` rendered by DRF's JSONRenderer, and its content type, as DRF renders it."""
    return HttpResponse(_RENDERER.render(data), content_type=JSONRenderer.media_type)


def _as_drf_renders(response) -> None:
    """Let Django render a DRF Response made outside a view, with the one renderer the API has."""
    response.accepted_renderer = _RENDERER
    response.accepted_media_type = JSONRenderer.media_type
    response.renderer_context = {}
