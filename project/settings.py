"""Gatehouse settings: read from the environment only (12-factor).

With no variable set everything runs embedded on one machine: SQLite, the in-process cache and
in-process task/event execution. Every variable is listed in the README's configuration table.
"""

import os
import re
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded defaults keep their files (the SQLite database): `var/` of the checkout, or of
# the working directory when Gatehouse runs installed (`pip install .`, the `gatehouse` command):
# site-packages is no place for data.
DATA_DIR = Path(
    os.environ.get("GATEHOUSE_DATA_DIR")
    or (BASE_DIR / "var" if (BASE_DIR / "manage.py").exists() else Path.cwd() / "var")
)

env = environ.Env()

# Off unless asked for: a deployment that forgets DEBUG gets production behaviour, not a debug page.
DEBUG = env.bool("DEBUG", default=False)
# The development key is only ever used with DEBUG on; without DEBUG a missing SECRET_KEY is an error.
SECRET_KEY = env.str(
    "SECRET_KEY", default="dev-only-insecure-key-never-in-production-0123456789abcdef" if DEBUG else ""
)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it to a long random value "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=1 on a development machine."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])

INSTALLED_APPS = [
    # First: its `createsuperuser` replaces django.contrib.auth's (writes go through the service).
    "users",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "project.events",
    "project.rpc",
    "gateway",
    "auth",
    "permissions",
    "notifications",
    "scim",
]

MIDDLEWARE = [
    "gateway.edge.ForwardedProtoMiddleware",
    "gateway.middleware.RequestIdMiddleware",
    "gateway.middleware.MetricsMiddleware",
    "gateway.middleware.HttpsOnlyApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files, right after the HTTPS redirect and HSTS, before the rate limit: one admin page
    # loads a dozen of them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "gateway.edge.SecurityHeadersMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "gateway.edge.BodySizeLimitMiddleware",
    "gateway.edge.RateLimitMiddleware",
    # `/api/` skips the six browser-only middlewares below it (bearer tokens only; issue 24).
    "gateway.middleware.ApiSkipsBrowserMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gateway.errors.ApiErrorMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'gatehouse.sqlite3'}")}
# Django's PostgreSQL backend, whose pool checks a quiet connection without a round trip
# (project/postgres/base.py).
POSTGRESQL_ENGINE = "project.postgres"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = POSTGRESQL_ENGINE
    # Django's own psycopg 3 pool; persistent connections and the pool exclude each other.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The pool checks a connection before handing it out: one broken by a server restart is
    # replaced instead of failing a request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side cursors (QuerySet.iterator() outside a transaction declares one WITH HOLD) live in
    # one server connection, which PgBouncer in transaction mode hands to another client after each
    # transaction: the next FETCH finds no cursor. Gatehouse streams no large result, so they are
    # off everywhere and a transaction-mode pooler needs no setting (docs/operations.md, "PostgreSQL
    # behind PgBouncer").
    # Nothing is prepared either: Django binds parameters on the client, with prepare_threshold=None.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        # A request waits this long for a connection, then gets a 503 (gateway.errors): while the
        # database is down, that is how long each request waits.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3.0),
        # psycopg_pool retries a failed connect after 1, 2, 4, 8… s without a cap, so after an outage
        # the pool stayed empty about as long again; giving up after 2 s lets the next request start
        # a fresh attempt at once.
        "reconnect_timeout": 2.0,
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # Tests start server and worker subprocesses: they need a test database they can open too.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_gatehouse.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

# Split mode: `<SERVICE>_DATABASE_URL` gives a core service a database of its own. A process that
# hosts the service (its grpcserve, the worker of its consumers and tasks, its relay) runs with
# DATABASE_URL set to that database, so the service's writes and its outbox share one transaction;
# any other process (a web process: the admin) reaches the service's tables through
# project.routers.ServiceDatabaseRouter. Unset (the monolith): everything is in DATABASE_URL.
GATEHOUSE_SERVICE_APP_LABELS = {
    "users": "users",
    "auth": "gatehouse_auth",
    "permissions": "permissions",
    "notifications": "notifications",
}


def _same_database(a: dict, b: dict) -> bool:
    return all(a.get(key) == b.get(key) for key in ("ENGINE", "HOST", "PORT", "NAME"))


for _service in GATEHOUSE_SERVICE_APP_LABELS:
    if env.str(f"{_service.upper()}_DATABASE_URL", default=""):
        _config = env.db(f"{_service.upper()}_DATABASE_URL")
        if _config["ENGINE"] == "django.db.backends.postgresql":
            _config["ENGINE"] = POSTGRESQL_ENGINE
        if not _same_database(_config, DATABASES["default"]):
            _config["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
            _config["CONN_HEALTH_CHECKS"] = DATABASES["default"].get("CONN_HEALTH_CHECKS", False)
            _config["DISABLE_SERVER_SIDE_CURSORS"] = DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS", False)
            _config.setdefault("OPTIONS", {}).update(DATABASES["default"].get("OPTIONS", {}))
            DATABASES[_service] = _config
DATABASE_ROUTERS = ["project.routers.ServiceDatabaseRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"
# Admin logins go through the auth service (lockout, throttling, TOTP), like API logins.
# GatehouseBackend logs people in (the admin); RbacBackend answers `user.has_perm` from RBAC.
AUTHENTICATION_BACKENDS = ["users.backends.GatehouseBackend", "permissions.backends.RbacBackend"]

# One server (redis://, rediss://, unix://) or Sentinel (redis+sentinel://h:26379,h:26380/mymaster/0):
# project/redis_client.py opens every connection, and seals a new primary after a failover. A bad
# URL is the system check gatehouse.E021 (and an error on first use).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            # A list: django-redis would split a Sentinel URL's commas into servers.
            "LOCATION": [REDIS_URL],
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                "CONNECTION_FACTORY": "project.redis_client.SealedConnectionFactory",
            },
            "KEY_PREFIX": "gh",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gatehouse"}}

# --- Tasks and events ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Embedded mode: events marked off-request (a password reset's mail) are handled on a background
# thread after the answer, not inside the request (project/events/relay.py). The test suite turns
# it off to observe their effects synchronously; tests/auth/test_reset_timing.py turns it on.
GATEHOUSE_EVENTS_OFF_REQUEST = env.bool("GATEHOUSE_EVENTS_OFF_REQUEST", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "gatehouse.tasks"
CELERY_BEAT_SCHEDULE = {
    "sweep-notification-deliveries": {"task": "notifications.sweep_deliveries", "schedule": 60.0},
    "sweep-outbox": {
        "task": "events.sweep_outbox",
        "schedule": env.float("GATEHOUSE_OUTBOX_SWEEP_SECONDS", default=10.0),
    },
}
GATEHOUSE_EVENTS_EXCHANGE = env.str("GATEHOUSE_EVENTS_EXCHANGE", default="gatehouse.events")
# Outbox rows older than this (seconds) are left to the sweeper rather than the after-commit fast path.
GATEHOUSE_OUTBOX_SWEEP_AGE = env.float("GATEHOUSE_OUTBOX_SWEEP_AGE", default=5.0)
# The type of every event queue (project/events/topology.py): "quorum" for a RabbitMQ cluster
# (replicated; a node may fail), "classic" for one node. Classic by default: a queue's type cannot
# change in place, so a default of quorum would stop every existing deployment at its upgrade
# (docs/events.md, "Queue type"); the Kubernetes manifests set quorum.
GATEHOUSE_EVENT_QUEUE_TYPE = env.str("GATEHOUSE_EVENT_QUEUE_TYPE", default="classic")
if GATEHOUSE_EVENT_QUEUE_TYPE not in ("quorum", "classic"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"GATEHOUSE_EVENT_QUEUE_TYPE must be quorum or classic, not {GATEHOUSE_EVENT_QUEUE_TYPE!r}"
    )
# Celery's task queues follow: a classic queue lives on one node, and with that node down a worker
# connected to another cannot declare it, so its event consumers would stop too. Quorum queues have
# no priorities and no global QoS (Gatehouse uses no priorities; Celery >= 5.5 detects quorum queues
# and turns its global QoS off). A countdown (a task's retry with backoff) then goes through
# Celery's native delayed delivery, which needs topic exchanges: otherwise the worker would hold the
# task, and its one prefetch slot, until it is due.
CELERY_TASK_DEFAULT_QUEUE_TYPE = GATEHOUSE_EVENT_QUEUE_TYPE
CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = GATEHOUSE_EVENT_QUEUE_TYPE
if GATEHOUSE_EVENT_QUEUE_TYPE == "quorum":
    CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
    CELERY_TASK_CREATE_MISSING_QUEUE_EXCHANGE_TYPE = "topic"
# Consumer retries: delays in seconds of successive attempts; after the last one, dead-letter.
GATEHOUSE_EVENT_RETRY_DELAYS = [float(x) for x in env.list("GATEHOUSE_EVENT_RETRY_DELAYS", default=["1", "5", "30"])]

# --- gRPC ---------------------------------------------------------------------------------------
GATEHOUSE_GRPC_TARGETS = {
    service: env.str(f"{service.upper()}_GRPC_TARGET", default="")
    for service in ("users", "auth", "permissions", "notifications")
}
GATEHOUSE_GRPC_TOKEN = env.str("GATEHOUSE_GRPC_TOKEN", default="")
GATEHOUSE_GRPC_TIMEOUT = env.float("GATEHOUSE_GRPC_TIMEOUT", default=5.0)

# --- Mail ---------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Gatehouse <no-reply@localhost>")
# Django's default is no timeout at all: a dead SMTP server would hang a delivery worker.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
NOTIFICATIONS_MAX_RETRIES = env.int("NOTIFICATIONS_MAX_RETRIES", default=8)
# A pending delivery untouched for this long lost its task (the sweeper queues it again), and the
# claim of an attempt that died while sending it has expired. Longer than the longest backoff
# and the longest send.
NOTIFICATIONS_STALE_AFTER_SECONDS = env.int("NOTIFICATIONS_STALE_AFTER_SECONDS", default=900)
# The webhook channel: every webhook delivery is POSTed to this URL, signed with the secret
# (HMAC-SHA256, docs/notifications.md). Unset: a send asking for the webhook channel is refused.
NOTIFICATIONS_WEBHOOK_URL = env.str("NOTIFICATIONS_WEBHOOK_URL", default="")
NOTIFICATIONS_WEBHOOK_SECRET = env.str("NOTIFICATIONS_WEBHOOK_SECRET", default="")
NOTIFICATIONS_WEBHOOK_TIMEOUT = env.float("NOTIFICATIONS_WEBHOOK_TIMEOUT", default=10.0)

# --- Gatehouse ----------------------------------------------------------------------------------
GATEHOUSE_ISSUER = env.str("GATEHOUSE_ISSUER", default="http://localhost:8000")
GATEHOUSE_AUDIENCE = env.str("GATEHOUSE_AUDIENCE", default="gatehouse")
GATEHOUSE_ACCESS_TOKEN_TTL = env.int("GATEHOUSE_ACCESS_TOKEN_TTL", default=300)
GATEHOUSE_REFRESH_TOKEN_TTL = env.int("GATEHOUSE_REFRESH_TOKEN_TTL", default=2592000)
# A session not refreshed for this many seconds ends at its next refresh (0: no idle timeout).
GATEHOUSE_SESSION_IDLE_TIMEOUT = env.int("GATEHOUSE_SESSION_IDLE_TIMEOUT", default=1209600)
# With DEBUG (the quick start), limits a person clicking through the API cannot reach (issue 16,
# item 9): sign-in, register and refresh weigh 5, so 60/min was spent in a normal walkthrough.
GATEHOUSE_RATELIMIT_ANON = env.str("GATEHOUSE_RATELIMIT_ANON", default="600/min" if DEBUG else "60/min")
GATEHOUSE_RATELIMIT_USER = env.str("GATEHOUSE_RATELIMIT_USER", default="6000/min" if DEBUG else "600/min")
# Quota leasing (docs/operations.md, Edge policy): a web process takes this many units of a user's
# bucket from Redis in one round trip, at most a fiftieth of the limit; 0 or 1: a round trip a request.
GATEHOUSE_RATELIMIT_LEASE = env.int("GATEHOUSE_RATELIMIT_LEASE", default=10)
# Password-reset requests per target address, whoever asks (on top of the caller's bucket).
# Requests per SCIM token (docs/scim.md): identity providers sync in bursts.
GATEHOUSE_RATELIMIT_SCIM = env.str("GATEHOUSE_RATELIMIT_SCIM", default="1200/min")
GATEHOUSE_RATELIMIT_RESET_PER_ADDRESS = env.str("GATEHOUSE_RATELIMIT_RESET_PER_ADDRESS", default="5/hour")
GATEHOUSE_LOGIN_MAX_FAILURES = env.int("GATEHOUSE_LOGIN_MAX_FAILURES", default=5)
# How long a request to remove a lost second factor waits (any sign-in with the factor cancels it).
GATEHOUSE_MFA_RECOVERY_DELAY = env.int("GATEHOUSE_MFA_RECOVERY_DELAY", default=3 * 24 * 3600)
GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP = env.int("GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP", default=50)
# Clock skew tolerated on exp/nbf/iat, seconds.
GATEHOUSE_TOKEN_LEEWAY = env.int("GATEHOUSE_TOKEN_LEEWAY", default=30)
GATEHOUSE_SIGNING_KEY_CACHE_SECONDS = env.float("GATEHOUSE_SIGNING_KEY_CACHE_SECONDS", default=60.0)
# A rotated refresh token presented again within this many seconds gets the pair issued for it
# (the client lost the response) instead of revoking the session.
GATEHOUSE_REFRESH_REUSE_GRACE = env.int("GATEHOUSE_REFRESH_REUSE_GRACE", default=10)
GATEHOUSE_TOTP_ISSUER = env.str("GATEHOUSE_TOTP_ISSUER", default="Gatehouse")
# Base of the links in mails. Default: this server, which serves /verify-email and /reset-password
# itself (auth/api/pages.py) when no frontend of its own takes them (issue 16, item 7).
GATEHOUSE_FRONTEND_URL = env.str("GATEHOUSE_FRONTEND_URL", default=GATEHOUSE_ISSUER)
# Passkeys (docs/auth.md, "Passkeys"): the relying party's id (a host name: the origins' host or a
# parent domain of it) and the origins browsers may sign in from (comma-separated, as the browser
# sees them: behind a proxy, the public https origin, not the one the proxy forwards to).
GATEHOUSE_WEBAUTHN_RP_ID = env.str("GATEHOUSE_WEBAUTHN_RP_ID", default="") or urlsplit(GATEHOUSE_FRONTEND_URL).hostname
GATEHOUSE_WEBAUTHN_ORIGINS = [o for o in env.list("GATEHOUSE_WEBAUTHN_ORIGINS", default=[]) if o.strip()] or [
    GATEHOUSE_FRONTEND_URL.rstrip("/")
]
GATEHOUSE_WEBAUTHN_RP_NAME = env.str("GATEHOUSE_WEBAUTHN_RP_NAME", default="Gatehouse")
# Seconds a registration or sign-in challenge stays usable (once).
GATEHOUSE_WEBAUTHN_CHALLENGE_TTL = env.int("GATEHOUSE_WEBAUTHN_CHALLENGE_TTL", default=300)
# Who must sign in with a passkey (phishing-resistant MFA; docs/auth.md, "Requiring a passkey"):
# comma-separated role names (`admin`) and permission codes (`rbac.role.manage`), held globally.
GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = [
    entry.strip() for entry in env.list("GATEHOUSE_PHISHING_RESISTANT_MFA_FOR", default=[]) if entry.strip()
]
# Whether a user must have followed the verification link before signing in (the API's token
# grant, the hosted OpenID sign-in, the admin). Said only after a correct password: 403
# `email_not_verified`.
GATEHOUSE_REQUIRE_VERIFIED_EMAIL = env.bool("GATEHOUSE_REQUIRE_VERIFIED_EMAIL", default=True)
# When set, /metrics answers only requests with `Authorization: Bearer <token>`.
GATEHOUSE_METRICS_TOKEN = env.str("GATEHOUSE_METRICS_TOKEN", default="")
# How this process names itself to the gRPC services it calls (`x-gatehouse-caller`): audited as
# the actor of a write that names no user. Default: the program and its command, and the host.
GATEHOUSE_SERVICE_IDENTITY = re.sub(
    r"[^A-Za-z0-9._:@/ -]",
    "-",
    env.str(
        "GATEHOUSE_SERVICE_IDENTITY",
        default=" ".join(os.path.basename(arg) for arg in sys.argv[:2] if arg and not arg.startswith("-"))[:55]
        + f"@{socket.gethostname()}"[:40],
    ),
)[:100]
# gRPC UserService.VerifyPassword: wrong passwords per account in 15 minutes before it refuses
# (the auth service locks an account at GATEHOUSE_LOGIN_MAX_FAILURES, long before).
GATEHOUSE_VERIFY_PASSWORD_MAX_FAILURES = env.int("GATEHOUSE_VERIFY_PASSWORD_MAX_FAILURES", default=20)
# Organizations (docs/orgs.md): how long an invitation's link works, and how many invitations
# (sent or resent) one org may mail per hour.
GATEHOUSE_ORG_INVITATION_TTL = env.int("GATEHOUSE_ORG_INVITATION_TTL", default=7 * 24 * 3600)
# The DNS server that verifies org domains (docs/orgs.md, "Verified domains"), as host:port (an
# IPv6 host in brackets); empty: the system's resolver (/etc/resolv.conf).
GATEHOUSE_DNS_RESOLVER = env.str("GATEHOUSE_DNS_RESOLVER", default="")
GATEHOUSE_ORG_INVITATIONS_PER_HOUR = env.int("GATEHOUSE_ORG_INVITATIONS_PER_HOUR", default=50)
# Who may read /metrics (issue 15, item 13): the token's holder when GATEHOUSE_METRICS_TOKEN is
# set; else these networks (default loopback only); anyone when GATEHOUSE_METRICS_PUBLIC is on
# (the default with DEBUG only).
GATEHOUSE_METRICS_ALLOWED_NETWORKS = env.list("GATEHOUSE_METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
GATEHOUSE_METRICS_PUBLIC = env.bool("GATEHOUSE_METRICS_PUBLIC", default=DEBUG)
GATEHOUSE_MAX_BODY_BYTES = env.int("GATEHOUSE_MAX_BODY_BYTES", default=1048576)
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEHOUSE_MAX_BODY_BYTES
# Proxies (IPs or CIDRs, e.g. the nginx in front) whose X-Forwarded-For names the real client.
GATEHOUSE_TRUSTED_PROXIES = env.list("GATEHOUSE_TRUSTED_PROXIES", default=[])
# The app services (gateway/routes.py) this web process serves; unset: all of them.
GATEHOUSE_APP_SERVICES = env.list("GATEHOUSE_APP_SERVICES", default=[])

# --- CORS (django-cors-headers): browsers on these origins may call the API -------------------------
CORS_ALLOWED_ORIGINS = env.list("GATEHOUSE_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api/|\.well-known/).*$"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "idempotency-key", "x-request-id")
CORS_EXPOSE_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
)
CORS_PREFLIGHT_MAX_AGE = 600

# --- Passwords ----------------------------------------------------------------------------------
# Argon2id first; the others only verify (and upgrade) hashes made before.
PASSWORD_HASHERS = [
    "users.hashers.GatehouseArgon2Hasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- REST ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["gateway.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "gateway.parsers.JsonNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": ["gateway.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "gateway.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "gateway.openapi.GatehouseAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse API",
    "DESCRIPTION": "Users, authentication, RBAC and notifications.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # An org domain's status (docs/orgs.md) beside the other `status` enums.
    "ENUM_NAME_OVERRIDES": {"OrgDomainStatusEnum": ["pending", "verified"]},
    # Swagger UI from the pinned drf-spectacular-sidecar package, served as our own static files:
    # /api/docs/ needs no CDN (issue 16, item 6).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "gateway.openapi.tag_app_services"],
}

# --- i18n / static --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Every web process serves the static files itself (WhiteNoise, issue 16 item 4), DEBUG or not:
# no reverse proxy is needed for the admin and /api/docs/ to have their stylesheets and scripts.
# `collectstatic` (the Dockerfile's build, scripts/stack) copies them to STATIC_ROOT under hashed,
# compressed names, served with a far-future Cache-Control; gatehouse.W003 warns when it was not run.
# With DEBUG they come straight from the apps (no collectstatic for `scripts/run`).
STATIC_URL = "static/"
# The checkout's git-ignored staticfiles/; installed, under GATEHOUSE_DATA_DIR (site-packages is no
# place to write); the image sets its own, outside the data directory.
STATIC_ROOT = Path(
    env.str("GATEHOUSE_STATIC_ROOT", default="")
    or (BASE_DIR / "staticfiles" if (BASE_DIR / "manage.py").exists() else DATA_DIR / "static")
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security (production defaults; `manage.py check --deploy` is clean with DEBUG off) ----------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Believed only from GATEHOUSE_TRUSTED_PROXIES: gateway.edge.ForwardedProtoMiddleware drops it otherwise.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Logging: JSON lines carrying the request id -----------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "project.kernel.context.RequestIdLogFilter"},
        # trace_id and span_id of the current span (docs/operations.md, "Tracing"); null when off.
        "trace": {"()": "project.tracing.TraceLogFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s %(span_id)s %(process)d",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601 in UTC
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id", "trace"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own "django" logger also writes plain text to the console under DEBUG: each of
        # its lines came out twice (issue 16, item 11). One JSON line, through our handler only.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
