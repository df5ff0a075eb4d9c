"""A minimal Django project for the peers a user would pick instead of Gatehouse (django-guardian,
ModelBackend, DRF + simplejwt) and for the bare-Django ceiling of scenario 2. Separate from
Gatehouse's settings so none of these apps leaks into its INSTALLED_APPS; it has its own database
(BENCH_PEER_DATABASE_URL, a `bench_peer` PostgreSQL database created by the bench)."""

from datetime import timedelta

import environ

env = environ.Env()

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="bench-peer-only-not-a-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.peer.urls"
WSGI_APPLICATION = "benchmarks.peer.wsgi.application"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "guardian",
    "rest_framework",
]
MIDDLEWARE: list[str] = []  # bare: the ceiling is Django's own request cycle
DATABASES = {"default": env.db_url("BENCH_PEER_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bench_peer")}
DATABASES["default"]["CONN_MAX_AGE"] = None
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "guardian.backends.ObjectPermissionBackend"]
# The same hasher family and parameters as Gatehouse's logins do not matter here: peers never log in.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(hours=2), "ALGORITHM": "HS256"}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
