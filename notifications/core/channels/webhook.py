"""The webhook channel: an HMAC-SHA256 signed JSON POST to NOTIFICATIONS_WEBHOOK_URL per delivery
(docs/notifications.md, "The webhook channel")."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from notifications.interface import CHANNEL_WEBHOOK
from notifications.models import Delivery
from users.interface import User

from ..rendering import Rendered
from .base import Channel, PermanentFailure

DEFAULT_WEBHOOK_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Gatehouse-Signature"
TIMESTAMP_HEADER = "X-Gatehouse-Timestamp"
DELIVERY_HEADER = "X-Gatehouse-Delivery"
TYPE_HEADER = "X-Gatehouse-Notification-Type"
USER_AGENT = "Gatehouse-Webhook/1"
# Answers that say "later" rather than "never": a timeout at the receiver, a rate limit.
RETRIED_CLIENT_ERRORS = frozenset({408, 429})
ERROR_BODY_MAX = 200


class WebhookError(Exception):
    """A webhook attempt that may succeed later (5xx, 408, 429, timeout, connection refused)."""


def webhook_configured() -> bool:
    """Whether the webhook channel can deliver: a URL and a secret to sign with."""
    return bool(getattr(settings, "NOTIFICATIONS_WEBHOOK_URL", "")) and bool(
        getattr(settings, "NOTIFICATIONS_WEBHOOK_SECRET", "")
    )


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of X-Gatehouse-Signature: HMAC-SHA256 of `<timestamp>.<body>` with the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(delivery: Delivery, rendered: Rendered) -> bytes:
    notification = delivery.notification
    payload = {
        "delivery_id": str(delivery.id),
        "notification_id": str(notification.id),
        "type": notification.type,
        "user_id": str(delivery.user_id),
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "created_at": notification.created_at.isoformat(),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302/303 with a GET without the body: a redirect is answered as
    # the 3xx it is (a permanent failure: the configured URL is wrong).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def send_webhook(delivery: Delivery, user: User, rendered: Rendered) -> None:
    url = getattr(settings, "NOTIFICATIONS_WEBHOOK_URL", "")
    secret = getattr(settings, "NOTIFICATIONS_WEBHOOK_SECRET", "")
    if urlsplit(url).scheme not in ("http", "https"):
        raise PermanentFailure("NOTIFICATIONS_WEBHOOK_URL is not an http(s) URL")
    timeout = getattr(settings, "NOTIFICATIONS_WEBHOOK_TIMEOUT", None) or DEFAULT_WEBHOOK_TIMEOUT
    body = webhook_body(delivery, rendered)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above: http(s) only
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: webhook_signature(secret, timestamp, body),
            DELIVERY_HEADER: str(delivery.id),
            TYPE_HEADER: delivery.notification.type,
        },
    )
    # Errors name the status or the network failure, never the URL (it may carry a token).
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        with exc:
            answer = exc.read(ERROR_BODY_MAX).decode("utf-8", "replace").strip()
        error = f"the receiver answered HTTP {exc.code}" + (f": {answer}" if answer else "")
        if exc.code >= 500 or exc.code in RETRIED_CLIENT_ERRORS:
            raise WebhookError(error) from None
        raise PermanentFailure(error) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise WebhookError(f"the receiver could not be reached: {type(reason).__name__}: {reason}") from None


CHANNEL = Channel(
    name=CHANNEL_WEBHOOK,
    send=send_webhook,
    configured=webhook_configured,
    needs="NOTIFICATIONS_WEBHOOK_URL and _SECRET",
)
