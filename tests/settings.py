"""Settings for the test suite and for the server/worker processes the tests start."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-any-deployment-0123456789")
os.environ.setdefault("GATEHOUSE_GRPC_TOKEN", "test-only-grpc-token")
os.environ.setdefault("GATEHOUSE_EVENT_RETRY_DELAYS", "0.2,0.4")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Every test client calls from 127.0.0.1: the rate-limit tests set their own limits.
os.environ.setdefault("GATEHOUSE_RATELIMIT_ANON", "1000000/min")
os.environ.setdefault("GATEHOUSE_RATELIMIT_USER", "1000000/min")
os.environ.setdefault("GATEHOUSE_RATELIMIT_RESET_PER_ADDRESS", "1000000/hour")
# A reset's mail is handled in the request, so tests see it at once (tests/auth/test_reset_timing.py
# covers the deployed behaviour, off the request).
os.environ.setdefault("GATEHOUSE_EVENTS_OFF_REQUEST", "false")
# Most tests sign in users they made without verifying them; the tests of the rule turn it on
# (tests/auth/test_require_verified_email.py), and so does a server started with it set.
os.environ.setdefault("GATEHOUSE_REQUIRE_VERIFIED_EMAIL", "false")

from project.settings import *  # noqa: F403
from project.settings import DATABASES, INSTALLED_APPS, STORAGES

# A test-only consumer whose side effects the event tests count.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.probe"]

# Two test runs in one work tree need two SQLite files (PostgreSQL runs pick DATABASE_URL instead).
if os.environ.get("GATEHOUSE_TEST_SQLITE") and "TEST" in DATABASES["default"]:
    DATABASES["default"]["TEST"]["NAME"] = os.environ["GATEHOUSE_TEST_SQLITE"]

# Subprocesses (gRPC servers, Celery workers, relays) started by the tests open the test database.
if os.environ.get("GATEHOUSE_TEST_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = os.environ["GATEHOUSE_TEST_DATABASE_NAME"]

# Hashing speed is not under test here; the password tests that need the real hasher set it, and a
# server started with GATEHOUSE_TEST_REAL_HASHER=1 hashes as deployed (the load test measures its memory).
if os.environ.get("GATEHOUSE_TEST_REAL_HASHER") != "1":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Pages render with DEBUG off and no collectstatic per run: static files come from the apps, as with
# DEBUG (WhiteNoise's finders). A server started with GATEHOUSE_TEST_DEPLOYED_STATIC=1 serves them as
# deployed, from the manifest collectstatic writes (tests/gateway/test_static.py runs it first).
if os.environ.get("GATEHOUSE_TEST_DEPLOYED_STATIC") != "1":
    STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True
