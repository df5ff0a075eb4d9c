"""A minimal relying party: a Django site that signs its users in with mozilla-django-oidc,
pointed at a Gatehouse by the environment (tests/oidc/test_interop.py starts it). Not Gatehouse's
code: the way any Django site would be set up from mozilla-django-oidc's documentation."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "rp-test-only-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "mozilla_django_oidc",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.oidc.rp.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["RP_DATABASE"]}}
AUTHENTICATION_BACKENDS = ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"]
TEMPLATES = []
USE_TZ = True

issuer = os.environ["RP_ISSUER"].rstrip("/")
OIDC_RP_CLIENT_ID = os.environ["RP_CLIENT_ID"]
OIDC_RP_CLIENT_SECRET = os.environ["RP_CLIENT_SECRET"]
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{issuer}/oauth2/authorize"
OIDC_OP_TOKEN_ENDPOINT = f"{issuer}/oauth2/token"
OIDC_OP_USER_ENDPOINT = f"{issuer}/oauth2/userinfo"
OIDC_OP_JWKS_ENDPOINT = f"{issuer}/.well-known/jwks.json"
OIDC_USE_PKCE = True
LOGIN_REDIRECT_URL = "/whoami"
LOGIN_REDIRECT_URL_FAILURE = "/failed"
