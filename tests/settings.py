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


def _one_worker_each() -> None:
    """A stack run split over pytest-xdist workers (`-n 2`, as CI runs it): each worker, and every
    process its tests start, gets a Redis database and a RabbitMQ vhost of its own (`<vhost>-gwN`),
    so that one worker's flushes, queues and Celery workers never meet another's. Its PostgreSQL
    test database is already its own (pytest-django: test_<name>_gwN). The vhost must exist: CI
    creates it (`rabbitmqctl add_vhost`), and a run whose vhost is missing fails at its start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or os.environ.get("GATEHOUSE_TEST_WORKER") == worker:
        return  # not a worker, or a process a worker started (it inherits the worker's URLs)
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    index = int(worker[2:])
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url.startswith(("redis://", "rediss://")):
        parts = urlsplit(redis_url)
        db = int(parts.path.strip("/") or 0)
        os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{(db - index) % 16}"))
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if broker_url.startswith("amqp"):
        parts = urlsplit(broker_url)
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        named = f"{'gatehouse-test' if vhost == '/' else vhost}-{worker}"
        os.environ["CELERY_BROKER_URL"] = urlunsplit(parts._replace(path="/" + quote(named, safe="")))
    os.environ["GATEHOUSE_TEST_WORKER"] = worker


_one_worker_each()

from project.settings import *  # noqa: E402, F403
from project.settings import DATABASES, INSTALLED_APPS, STORAGES  # noqa: E402

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
