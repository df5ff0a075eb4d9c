"""`/scim/v2/…` (docs/scim.md): the Django view in front of scim2-server.

scim2-server's application serves the protocol; this module authenticates the bearer token,
rate-limits per token (per client IP before a token is known, as the edge does), and turns its
framework-free request and response into Django's.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from functools import cache

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Patch,
    ResourceType,
    SCIMException,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    UnauthorizedException,
    User,
)
from scim2_server.applications.wsgi import WSGIApplication
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService

from gateway.edge import counter, parse_rate

from .leases import ResourceBusy, write_lease
from .storage import GatehouseStorage, serving
from .tokens import token_authenticate

logger = logging.getLogger(__name__)

MAX_RESULTS = 200
# How long a write waits for another write of the same resource to finish before answering 503.
WRITE_WAIT = 10.0
WRITES = {"PUT", "PATCH", "DELETE"}

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="Bearer token",
            description="A token made by `manage.py scim_token create` or in the admin.",
            primary=True,
        )
    ],
)


class TooManyRequests(SCIMException):
    status = 429
    _default_detail = "Too many requests."


class Busy(SCIMException):
    status = 503
    _default_detail = "Another change of this resource is in progress; retry."


class GatehouseScimApplication(WSGIApplication):
    def check_auth(self, request: ScimRequest) -> None:
        if request.subject is None:
            raise UnauthorizedException

    def get_subject(self, request: ScimRequest):
        return request.subject  # the token the view authenticated


@cache
def application() -> GatehouseScimApplication:
    provider = ScimProvider(
        models=[User, EnterpriseUser, Group],
        resource_types=[ResourceType.from_resource(User[EnterpriseUser]), ResourceType.from_resource(Group)],
        config=CONFIG,
        # What Microsoft Entra ID sends beyond RFC 7644 (docs/scim.md): a remove whose value names
        # the members to remove, and a filtered path for an entry the user does not have yet.
        policy=ScimPolicy(
            remove_value_as_filter=ScimPolicy.RemoveValue.apply,
            unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
        ),
    )
    return GatehouseScimApplication(GatehouseStorage(), provider, ScimService(provider))


def _bearer(request) -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def _written_resource(method: str, path: str) -> uuid.UUID | None:
    """The id of the user or group a PUT, PATCH or DELETE changes (None for anything else)."""
    kind, _, resource_id = path.strip("/").partition("/")
    if method not in WRITES or kind not in ("Users", "Groups"):
        return None
    try:
        return uuid.UUID(resource_id)
    except ValueError:
        return None  # scim2-server answers 404


def _send(response) -> HttpResponse:
    body = b"" if response.body is None else json.dumps(response.body).encode()
    sent = HttpResponse(body, status=response.status.value)
    for name, value in response.headers.items():
        sent[name] = value
    return sent


@csrf_exempt
def scim(request, path: str = ""):
    secret = _bearer(request)
    token = token_authenticate(secret) if secret else None
    scim_request = ScimRequest(
        method=request.method,
        base_url=request.build_absolute_uri("/scim/v2"),
        path="/" + path,
        query=request.GET.dict(),
        headers=dict(request.headers),
        body=request.body,
        subject=token,
    )
    app = application()
    if token is not None:
        bucket, rate = f"scim:{token.id}", parse_rate(settings.GATEHOUSE_RATELIMIT_SCIM)
    else:
        bucket, rate = f"ip:{request.client_ip}", parse_rate(settings.GATEHOUSE_RATELIMIT_ANON)
    try:
        count, reset = counter().hit(f"gatehouse:rl:{bucket}", 1, rate.period)
    except Exception:  # the store is down: fail open, as the edge does
        logger.warning("rate limit store unavailable; SCIM request let through", exc_info=True)
        count, reset = 0, 0
    if count > rate.limit:
        response = _send(app.service.error_response(TooManyRequests()))
        response["Retry-After"] = str(max(1, math.ceil(reset)))
        return response
    resource_id = _written_resource(request.method, path) if token is not None else None
    if resource_id is None:
        with serving(token):
            return _send(app.serve(scim_request))
    try:
        # The read, the ETag check and the writes of one change are one step (scim/leases.py).
        with write_lease(resource_id, wait=WRITE_WAIT), serving(token):
            return _send(app.serve(scim_request))
    except ResourceBusy:
        response = _send(app.service.error_response(Busy()))
        response["Retry-After"] = "1"
        return response
