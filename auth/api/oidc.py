"""The web side of the OpenID Provider (docs/oidc.md): discovery, the authorization endpoint with
its hosted pages (sign-in, the TOTP step, consent, errors), the token and userinfo endpoints.

Plain Django views, not DRF: the OAuth endpoints answer in RFC 6749's form, the pages are HTML.
Everything about the protocol happens in the auth core service behind `oidc_provider`; this layer
adapts the HTTP request, keeps the browser's SSO cookie and renders the pages.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from auth.interface import InvalidToken, MfaRequired, PasskeyRequired, passkey_assertion
from auth.interface.oidc import AuthorizePage, OAuthRequest, OAuthResponse, oidc_provider
from gateway.edge import client_ip
from project.kernel.errors import DomainError, RateLimited

from .views import client_info

SSO_COOKIE = "gatehouse_sso"
_SSO_SALT = "gatehouse.sso"
SCOPE_TEXT = {
    "openid": "Know who you are (your account id)",
    "profile": "See your name",
    "email": "See your email address and whether it is verified",
    "offline_access": "Stay signed in to the application when you are away",
    "orgs": "See your organizations and your role in each",
}


def _issuer_uri(request) -> str:
    """The request's address as the issuer names it (behind a proxy the Host may differ)."""
    return settings.GATEHOUSE_ISSUER.rstrip("/") + request.get_full_path()


def _oauth_request(request, *, with_body: bool) -> OAuthRequest:
    params = [(k, v) for k in request.GET for v in request.GET.getlist(k)]
    if with_body:
        params += [(k, v) for k in request.POST for v in request.POST.getlist(k) if k != "csrfmiddlewaretoken"]
    headers = tuple((k, v) for k, v in request.headers.items() if k.lower() in ("authorization", "user-agent"))
    return OAuthRequest(
        method=request.method,
        uri=_issuer_uri(request),
        headers=headers,
        params=tuple(params),
        client_ip=client_ip(request),
    )


def _to_django(response: OAuthResponse) -> HttpResponse:
    out = HttpResponse(response.body, status=response.status)
    for name, value in response.headers:
        out[name] = value
    if response.status in (200, 400, 401) and response.body.startswith("{"):
        out["Content-Type"] = "application/json"
    out["Cache-Control"] = "no-store"
    return out


def _sso_session(request) -> uuid.UUID | None:
    raw = request.COOKIES.get(SSO_COOKIE)
    if not raw:
        return None
    try:
        return uuid.UUID(signing.loads(raw, salt=_SSO_SALT, max_age=settings.GATEHOUSE_REFRESH_TOKEN_TTL))
    except (signing.BadSignature, ValueError, TypeError):
        return None


def _set_sso(response, session_id: uuid.UUID) -> None:
    response.set_cookie(
        SSO_COOKIE,
        signing.dumps(str(session_id), salt=_SSO_SALT),
        max_age=settings.GATEHOUSE_REFRESH_TOKEN_TTL,
        httponly=True,
        secure=not settings.DEBUG,
        samesite="Lax",
        path="/",
    )


def _page_headers(response, request, *, scripts: bool = False) -> HttpResponse:
    form_targets = ["'self'"]
    redirect_uri = request.GET.get("redirect_uri", "") or request.GET.get("post_logout_redirect_uri", "")
    parts = urlsplit(redirect_uri) if redirect_uri else None
    if parts and parts.scheme in ("http", "https") and parts.netloc:
        # Browsers apply form-action to the redirect that follows our form's POST.
        form_targets.append(f"{parts.scheme}://{parts.netloc}")
    return page_headers(response, form_targets=form_targets, scripts=scripts)


def page_headers(response, *, form_targets=("'self'",), scripts: bool = False) -> HttpResponse:
    """A hosted page's headers: a strict CSP (styles from our own origin; no script, but on the
    sign-in page scripts from our own origin only), no framing, no caching."""
    # The sign-in page's passkey script (auth/static/oidc/passkey.js) fetches its options from our
    # own API: no inline script, nothing from elsewhere.
    script = "script-src 'self'; connect-src 'self'; " if scripts else ""
    response["Content-Security-Policy"] = (
        f"default-src 'none'; {script}style-src 'self'; img-src 'self'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action {' '.join(form_targets)}"
    )
    response["X-Frame-Options"] = "DENY"
    response["Cache-Control"] = "no-store"
    # Not "no-referrer": a browser then posts our own forms with `Origin: null`, which CSRF
    # protection rightly refuses. "same-origin" keeps the query string from leaking to clients.
    response["Referrer-Policy"] = "same-origin"
    return response


def _render(request, page: AuthorizePage, *, status: int = 200, **context) -> HttpResponse:
    template = {"login": "oidc/login.html", "consent": "oidc/consent.html"}.get(page.page, "oidc/error.html")
    scopes = [
        (
            s,
            "See whether you belong to this organization, and your role in it"
            if s.startswith("org:")
            else SCOPE_TEXT.get(s, s),
        )
        for s in page.scopes
    ]
    context = {"page": page, "scopes": scopes, "action": request.get_full_path(), **context}
    if page.page == "error":
        status = 400
    return _page_headers(render(request, template, context, status=status), request, scripts=page.page == "login")


def _answer(request, result, *, sso: uuid.UUID | None = None, **context) -> HttpResponse:
    if isinstance(result, OAuthResponse):
        response = _to_django(result)
        response = _page_headers(response, request)
    else:
        response = _render(request, result, **context)
    if sso is not None:
        _set_sso(response, sso)
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def authorize(request):
    """GET: the authorization request. POST (our own pages, back to the same address): the
    sign-in form (`email`, `password`, then `otp`) or the consent form (`decision`)."""
    oauth_request = _oauth_request(request, with_body=False)
    session_id = _sso_session(request)
    if request.method == "GET":
        return _answer(request, oidc_provider.authorize(request=oauth_request, browser_session_id=session_id))
    if "decision" in request.POST:
        result = oidc_provider.authorize(
            request=oauth_request, browser_session_id=session_id, decision=request.POST.get("decision", "")
        )
        return _answer(request, result)
    # The sign-in form. Validate the request first: never ask for a password for a bad request.
    first = oidc_provider.authorize(request=oauth_request, browser_session_id=None)
    if not (isinstance(first, AuthorizePage) and first.page == "login"):
        return _answer(request, first)
    email = request.POST.get("email", "")[:320]
    password = request.POST.get("password", "")[:4096]
    otp = request.POST.get("otp", "")[:64] or None
    ticket = request.POST.get("mfa_ticket", "")[:1024]
    try:
        signed_in = oidc_provider.sign_in(
            email=email,
            password=password,
            otp=otp,
            client=client_info(request),
            mfa_ticket=ticket,
            passkey=passkey_assertion(request.POST.get("passkey")),
        )
    except (MfaRequired, PasskeyRequired) as exc:
        if "registration_options" in exc.details:  # no passkey to use yet: registered through the API
            return _render(request, first, status=400, email=email, error=exc.message)
        return _render(
            request,
            first,
            status=200 if isinstance(exc, MfaRequired) else 400,
            email=email or exc.details.get("email", ""),
            mfa_ticket=exc.details.get("mfa_ticket", ticket),
            need_otp=True,
            passkey_only=isinstance(exc, PasskeyRequired),
            error="" if isinstance(exc, MfaRequired) else exc.message,
        )
    except RateLimited as exc:
        return _render(
            request, first, status=429, email=email, error=exc.message, mfa_ticket=ticket, need_otp=bool(ticket)
        )
    except DomainError as exc:
        return _render(
            request, first, status=400, email=email, error=exc.message, mfa_ticket=ticket, need_otp=bool(ticket)
        )
    result = oidc_provider.authorize(request=oauth_request, browser_session_id=signed_in.session_id, fresh=True)
    return _answer(request, result, sso=signed_in.session_id)


@csrf_exempt
@require_http_methods(["POST"])
def token(request):
    return _to_django(oidc_provider.token(request=_oauth_request(request, with_body=True)))


@csrf_exempt
@require_http_methods(["POST"])
def revoke(request):
    return _to_django(oidc_provider.revoke(request=_oauth_request(request, with_body=True)))


@csrf_exempt
@require_http_methods(["POST"])
def introspect(request):
    return _to_django(oidc_provider.introspect(request=_oauth_request(request, with_body=True)))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def end_session(request):
    """RP-initiated logout; the confirmation form posts back here with `confirm`."""
    confirmed = request.method == "POST" and request.POST.get("confirm") == "yes"
    result = oidc_provider.end_session(
        request=_oauth_request(request, with_body=False), browser_session_id=_sso_session(request), confirmed=confirmed
    )
    if isinstance(result, OAuthResponse):
        response = _page_headers(_to_django(result), request)
        signed_out = True
    else:
        template = {"confirm": "oidc/logout_confirm.html", "done": "oidc/logout_done.html"}.get(
            result.page, "oidc/error.html"
        )
        status = 400 if result.page == "error" else 200
        response = _page_headers(
            render(request, template, {"page": result, "action": request.get_full_path()}, status=status), request
        )
        signed_out = result.page == "done"
    if signed_out:
        response.delete_cookie(SSO_COOKIE, path="/", samesite="Lax")
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def userinfo(request):
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if not header and request.method == "POST" and "access_token" in request.POST:
        # RFC 6750 §2.2: the token in a form body (pyoidc's default); never in the query (§2.3).
        scheme, credential = "bearer", request.POST["access_token"]
    if scheme.lower() != "bearer" or not credential.strip():
        response = JsonResponse(
            {"error": "invalid_token", "error_description": "A bearer access token is required."}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    try:
        claims = oidc_provider.userinfo(access_token=credential.strip())
    except InvalidToken:
        response = JsonResponse(
            {"error": "invalid_token", "error_description": "The access token is invalid."}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    response = JsonResponse(claims)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET"])
def discovery(request):
    response = HttpResponse(json.dumps(oidc_provider.discovery()), content_type="application/json")
    response["Access-Control-Allow-Origin"] = "*"  # SPAs read it cross-origin
    response["Cache-Control"] = "public, max-age=300"
    return response
