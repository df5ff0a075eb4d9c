"""System checks for a deployment (`manage.py check`, `check --deploy`), next to Django's own."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, Warning, register

from project.redis_client import RedisUrlError, parse_redis_url

# Backends that write each mail, one-time tokens and all, to the process's output: its logs.
MAIL_TO_OUTPUT = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@register(Tags.security, deploy=True)
def metrics_are_not_public(app_configs, **kwargs):
    if settings.GATEHOUSE_METRICS_PUBLIC:
        return [
            Warning(
                "GATEHOUSE_METRICS_PUBLIC is on: /metrics is open to anyone (routes, request counts, "
                "rate-limit refusals, refresh-token replays).",
                hint="Unset it; scrape with GATEHOUSE_METRICS_TOKEN or from GATEHOUSE_METRICS_ALLOWED_NETWORKS.",
                id="gatehouse.W002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def mail_does_not_go_to_the_logs(app_configs, **kwargs):
    if settings.EMAIL_BACKEND in MAIL_TO_OUTPUT:
        return [
            Warning(
                "EMAIL_URL sends mail to the console or a file: verification and password reset "
                "mails carry one-time tokens, which would end up in the logs.",
                hint="Set EMAIL_URL to your SMTP relay, e.g. smtp+tls://user:password@smtp.example.com:587.",
                id="gatehouse.W001",
            )
        ]
    return []


# Not tagged `staticfiles`: collectstatic runs those checks, and would warn before collecting.
@register()
def static_files_are_collected(app_configs, **kwargs):
    """Without DEBUG, pages name their static files through collectstatic's manifest: without it,
    every page that has any (the admin, /api/docs/, the sign-in pages) fails with a 500."""
    if settings.DEBUG or not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    if staticfiles_storage.exists(staticfiles_storage.manifest_name):
        return []
    return [
        Warning(
            f"STATIC_ROOT ({settings.STATIC_ROOT}) has no static files manifest: without DEBUG the admin, "
            "/api/docs/ and the sign-in pages fail with 500.",
            hint="Run `manage.py collectstatic --noinput` with this configuration (the Dockerfile's build and "
            "scripts/stack do), or set GATEHOUSE_STATIC_ROOT to where it was run.",
            id="gatehouse.W003",
        )
    ]


@register()
def redis_url_is_valid(app_configs, **kwargs):
    """A REDIS_URL that names no server would only fail at the first request that needs Redis."""
    if not settings.REDIS_URL:
        return []
    try:
        parse_redis_url(settings.REDIS_URL)
    except RedisUrlError as exc:
        return [
            Error(
                f"REDIS_URL is not valid: {exc}.",
                hint="One server: redis://[:password@]host:6379/0 (rediss:// with TLS, unix:///path?db=0). "
                "Sentinel: redis+sentinel://[:password@]host:26379,host:26380/mymaster/0"
                "[?sentinel_password=...]. See docs/operations.md.",
                id="gatehouse.E021",
            )
        ]
    return []
