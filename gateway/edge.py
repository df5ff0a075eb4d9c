"""Edge policy (docs/operations.md, Edge policy), the same in every mode: the real client IP, body-size limit (413),
access-token verification done once per request, rate limits shared by every process through
Redis (429 + `Retry-After` + `RateLimit-*`) and security headers on API responses. CORS is
django-cors-headers' (settings `CORS_*`). Every rejection is the documented JSON envelope.

Rate limits: one bucket per authenticated user (`GATEHOUSE_RATELIMIT_USER`) or, for a call without
a valid token, per client IP (`GATEHOUSE_RATELIMIT_ANON`). Some routes cost more than one request
(ROUTE_WEIGHTS, in the route table). Windows are fixed and start at a bucket's first request, so N
processes share one count exactly. A per-user bucket with a large limit is leased k units at a time
(LeasingCounter: at most L a window, at least L - P·(k - 1)); per-IP buckets and small limits stay exact. When Redis does not answer the limiter fails open (logged and counted in
`gatehouse_ratelimit_unavailable_total`): the API stays up, and the login lockout, which lives in
the database, still stops password guessing. See docs/operations.md.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from prometheus_client import Counter

from .authentication import verify_bearer
from .errors import error_body, too_large
from .routes import ANONYMOUS_ROUTES, ROUTE_WEIGHTS

logger = logging.getLogger("gatehouse.edge")

LIMITED_PREFIXES = ("/api/", "/oauth2/", "/verify-email", "/reset-password")
RESET_PATH = "/api/v1/auth/password/reset"

RATELIMIT_REJECTED = Counter("gatehouse_ratelimit_rejected_total", "Requests refused by the rate limit.", ["bucket"])
RATELIMIT_UNAVAILABLE = Counter(
    "gatehouse_ratelimit_unavailable_total", "Requests let through because the rate-limit store did not answer."
)


# --- The client's address ----------------------------------------------------------------------


@cache
def _trusted_proxies(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in spec)
    except ValueError as exc:
        raise ImproperlyConfigured(f"GATEHOUSE_TRUSTED_PROXIES: {exc}") from None


def _is_trusted(address: str, proxies) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_ip(request) -> str:
    """The address of whoever sent the request.

    `REMOTE_ADDR`, unless that is one of `GATEHOUSE_TRUSTED_PROXIES` (nginx): then the nearest
    `X-Forwarded-For` hop that is not a trusted proxy. A client cannot spoof it: hops it wrote
    itself lie to the left of the one our proxy appended.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = _trusted_proxies(tuple(settings.GATEHOUSE_TRUSTED_PROXIES))
    if not proxies or not _is_trusted(remote, proxies):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # garbage where the proxy's entry should be: trust nothing
    return remote


class ForwardedProtoMiddleware:
    """Honour `X-Forwarded-Proto` only from a `GATEHOUSE_TRUSTED_PROXIES` peer.

    Django's `SECURE_PROXY_SSL_HEADER` believes the header from anyone, so a client on plain HTTP
    could call itself HTTPS and pass the HTTPS-only checks. This runs first and drops the header
    when the peer is not a trusted proxy, before anything asks `request.is_secure()`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "HTTP_X_FORWARDED_PROTO" in request.META:
            proxies = _trusted_proxies(tuple(settings.GATEHOUSE_TRUSTED_PROXIES))
            if not _is_trusted(request.META.get("REMOTE_ADDR", "") or "", proxies):
                del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


# --- Rates ---------------------------------------------------------------------------------------

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*")


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    period: int  # seconds

    @property
    def policy(self) -> str:
        return f"{self.limit};w={self.period}"


@cache
def parse_rate(text: str) -> Rate:
    """`"60/min"`, `"1000/hour"`, `"10/30s"` → Rate. Raises ImproperlyConfigured."""
    match = _RATE.fullmatch(text.lower())
    if not match or match.group(3) not in _UNITS or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"not a rate: {text!r} (expected e.g. 60/min, 1000/hour, 10/30s)")
    multiplier = int(match.group(2) or 1)
    return Rate(limit=int(match.group(1)), period=multiplier * _UNITS[match.group(3)])


def route_weight(path: str) -> int:
    return next((weight for prefix, weight in ROUTE_WEIGHTS if path.startswith(prefix)), 1)


# --- Counters --------------------------------------------------------------------------------------

# One round trip: add the weight, start the window on the bucket's first hit, read its remaining time.
_HIT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""


class RedisCounter:
    def __init__(self, client=None):
        if client is None:
            from django_redis import get_redis_connection

            client = get_redis_connection("default")
        self._script = client.register_script(_HIT)

    def hit(self, key: str, weight: int, period: int) -> tuple[int, float]:
        count, ttl_ms = self._script(keys=[key], args=[weight, period * 1000])
        return int(count), int(ttl_ms) / 1000


class LocalCounter:
    """Embedded mode (no Redis): counts in this process only."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[int, float]] = {}

    def hit(self, key: str, weight: int, period: int) -> tuple[int, float]:
        now = time.monotonic()
        with self._lock:
            count, ends = self._buckets.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + period
                if len(self._buckets) > 100_000:
                    self._buckets = {k: v for k, v in self._buckets.items() if v[1] > now}
            count += weight
            self._buckets[key] = (count, ends)
        return count, ends - now


# --- Quota leasing (issue 24) ---------------------------------------------------------------------

LEASE_MIN_SHARE = 50  # a lease is at most 1/50 of the limit, so limits under 100 a window stay exact


def lease_size(limit: int, setting: int | None = None) -> int:
    """Units a process takes from a bucket's shared count in one round trip: the
    `GATEHOUSE_RATELIMIT_LEASE` setting, capped at a fiftieth of the limit. 1 means exact (one round
    trip a request, as before leasing): every limit below 100 a window, and every limit when the
    setting is 0 or 1."""
    k = settings.GATEHOUSE_RATELIMIT_LEASE if setting is None else setting
    return max(1, min(k, limit // LEASE_MIN_SHARE))


def lease_grant(count: int, size: int, limit: int) -> int:
    """Of the `size` units a lease just added to the shared count (now `count`), how many are
    numbered at or under the limit, and so may be spent: the units are numbered 1, 2, … in the
    order processes took them, and only the first `limit` of a window are ever admitted."""
    return max(0, min(count, limit) - (count - size))


@dataclass(slots=True)
class _Lease:
    held: int  # units numbered ≤ the limit, taken by this process, not yet spent
    count: int  # the shared count after this process's last lease (for the headers)
    ends: float  # monotonic time at which the lease's window ends at the latest


class LeasingCounter:
    """Quota leasing over a shared counter (RedisCounter): a process takes `size` units of a bucket
    in one round trip and spends them locally, so a bucket costs one round trip every `size`
    requests instead of one a request.

    The bound (docs/operations.md, Edge policy): units are numbered by the shared count and only
    units numbered ≤ L are ever spent, so a window admits at most L, whatever the number of
    processes. A lease's local end is computed from the time the request was *sent* plus the TTL
    Redis returned, so it never outlives the Redis window it came from. The price is on the other
    side: units a process holds and does not spend before its window ends are lost, so when traffic
    stops reaching some of P processes a window may admit as few as L - P·(k - 1) (k ≥ the largest
    route weight); with traffic reaching every process, exactly L.
    """

    def __init__(self, shared):
        self.shared = shared
        self._lock = threading.Lock()
        self._leases: dict[str, _Lease] = {}

    def hit(self, key: str, weight: int, period: int, limit: int, size: int) -> tuple[int, float]:
        """(count, seconds to the window's end) like RedisCounter.hit: admitted iff count ≤ limit.
        Raises what the shared counter raises (the caller fails open) only when it needs a lease."""
        now = time.monotonic()
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease.ends > now:
                if lease.held >= weight:
                    lease.held -= weight
                    return min(lease.count - lease.held, limit), lease.ends - now
                if lease.count >= limit:  # the window's units are all handed out: no round trip can help
                    return max(lease.count, limit + 1), lease.ends - now
        take = max(size, weight)
        count, ttl = self.shared.hit(key, take, period)
        grant = lease_grant(count, take, limit)
        with self._lock:
            lease = self._leases.get(key)
            if lease is None or lease.ends <= now:
                if len(self._leases) > 100_000:
                    self._leases = {k: v for k, v in self._leases.items() if v.ends > now}
                lease = self._leases[key] = _Lease(held=0, count=0, ends=0.0)
            lease.held += grant
            lease.count = max(lease.count, count)
            lease.ends = now + ttl - 0.001  # `now` was taken before the script ran: never past its window
            if lease.held >= weight:
                lease.held -= weight
                return min(lease.count - lease.held, limit), lease.ends - now
        return max(count, limit + 1), ttl  # refused; units under the limit it holds stay for lighter calls


_counter = None
_leasing = None
_counter_lock = threading.Lock()


def counter():
    global _counter
    if _counter is None:
        with _counter_lock:
            if _counter is None:
                _counter = RedisCounter() if settings.REDIS_URL else LocalCounter()
    return _counter


def use_counter(new) -> None:
    """Replace the counter (None: build it again from the settings on next use)."""
    global _counter, _leasing
    _counter = new
    _leasing = None


def hit(key: str, weight: int, rate: Rate, *, lease: bool = False) -> tuple[int, float]:
    """Count `weight` against `key`; (count, seconds to the window's end), admitted iff count ≤
    rate.limit. With `lease`, and a limit large enough (lease_size), the count is leased from
    Redis k units at a time; otherwise one round trip a call, exact."""
    global _leasing
    shared = counter()
    size = lease_size(rate.limit) if lease and isinstance(shared, RedisCounter) else 1
    if size <= 1:
        return shared.hit(key, weight, rate.period)
    leasing = _leasing
    if leasing is None or leasing.shared is not shared:
        with _counter_lock:
            leasing = _leasing = LeasingCounter(shared)
    return leasing.hit(key, weight, rate.period, rate.limit, size)


# --- Middleware ----------------------------------------------------------------------------------


class BodySizeLimitMiddleware:
    """413 before a byte of an oversized body is read (declared length); Django's own check
    (DATA_UPLOAD_MAX_MEMORY_SIZE) catches the rest: gateway.errors maps it to 413.

    A chunked body without a Content-Length is refused under /api/ with 411: WSGI servers hand
    Django no length for it, so it would be read as empty (and escape the size limit). nginx in
    front buffers such a body and passes it on with its length, so clients behind it never see this.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.GATEHOUSE_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(error_body("bad_request", "Invalid Content-Length."), status=400)
        if length > limit:
            return too_large()
        if (
            not length
            and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
            and request.path.startswith("/api/")
        ):
            return JsonResponse(
                error_body("length_required", "Send the body with a Content-Length (chunked bodies are not accepted)."),
                status=411,
            )
        return self.get_response(request)


def _reset_address(request) -> str:
    """A digest of the address a reset is asked for (never the address itself in a cache key)."""
    try:
        email = json.loads(request.body or b"{}").get("email")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(email, str) or not email.strip():
        return ""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_ip = client_ip(request)
        if not request.path.startswith(LIMITED_PREFIXES) or request.method == "OPTIONS":
            return self.get_response(request)
        edge = verify_bearer(request)
        request.edge_principal = edge
        anonymous_route = request.path.startswith(ANONYMOUS_ROUTES)
        if edge is not None and edge.principal is not None and not anonymous_route:
            bucket, rate = f"user:{edge.principal.user_id}", parse_rate(settings.GATEHOUSE_RATELIMIT_USER)
        else:
            bucket, rate = f"ip:{request.client_ip}", parse_rate(settings.GATEHOUSE_RATELIMIT_ANON)
        try:
            # Only a user's bucket may lease (lease_size): the per-IP bucket carries sign-in, reset and
            # registration, and stays exact, as does the per-address reset bucket below.
            count, reset = hit(
                f"gatehouse:rl:{bucket}", route_weight(request.path), rate, lease=bucket.startswith("user:")
            )
            if count <= rate.limit and request.path == RESET_PATH and request.method == "POST":
                # Reset mails are also counted per target address, whoever asks (issue 15, item 10).
                address = _reset_address(request)
                if address:
                    rate = parse_rate(settings.GATEHOUSE_RATELIMIT_RESET_PER_ADDRESS)
                    count, reset = counter().hit(f"gatehouse:rl:reset:{address}", 1, rate.period)
                    bucket = "reset:address"
        except Exception:  # the store is down: fail open, loudly
            RATELIMIT_UNAVAILABLE.inc()
            logger.warning("rate limit store unavailable; request let through", exc_info=True)
            return self.get_response(request)
        reset_seconds = max(1, math.ceil(reset))
        headers = {
            "RateLimit-Limit": str(rate.limit),
            "RateLimit-Remaining": str(max(0, rate.limit - count)),
            "RateLimit-Reset": str(reset_seconds),
            "RateLimit-Policy": rate.policy,
        }
        if count > rate.limit:
            RATELIMIT_REJECTED.labels(bucket.split(":", 1)[0]).inc()
            response = JsonResponse(
                error_body("rate_limited", "Too many requests.", {"retry_after": reset_seconds}), status=429
            )
            response["Retry-After"] = str(reset_seconds)
        else:
            response = self.get_response(request)
        for name, value in headers.items():
            response[name] = value
        return response


API_SECURITY_HEADERS = {
    # Tokens and personal data must not sit in shared or browser caches.
    "Cache-Control": "no-store",
    # JSON is never a document: nothing may load from it, nobody may frame it.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """Headers for API responses on top of Django's SecurityMiddleware (nosniff, HSTS, referrer
    policy, COOP) and X-Frame-Options. The browsable docs page keeps its own CSP-free HTML."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            # XFrameOptionsMiddleware's, which `/api/` skips (gateway.middleware.ApiSkipsBrowserMiddleware).
            response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
            if not response.get("Content-Type", "").startswith("text/html"):
                for name, value in API_SECURITY_HEADERS.items():
                    response.headers.setdefault(name, value)
        return response
