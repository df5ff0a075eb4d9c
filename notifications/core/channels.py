"""The channels a delivery can go out on. Each sender raises on failure; the caller decides
whether to retry (notifications.core.delivery)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.interface import CHANNEL_EMAIL, CHANNEL_IN_APP
from notifications.models import Delivery, InAppMessage
from users.interface import User

from .rendering import Rendered

# Seconds an SMTP conversation may take before it counts as a (retried) failure. Without one a
# dead mail server would hold a worker forever.
DEFAULT_EMAIL_TIMEOUT = 10.0


class PermanentFailure(Exception):
    """Retrying cannot help (e.g. the user has no email address)."""


def send_email(delivery: Delivery, user: User, rendered: Rendered) -> None:
    if not user.email:
        raise PermanentFailure("the user has no email address")
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_EMAIL_TIMEOUT
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"X-Gatehouse-Notification": str(delivery.notification_id)},
        connection=get_connection(timeout=timeout),
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()


def send_in_app(delivery: Delivery, user: User, rendered: Rendered) -> None:
    # Runs in the transaction that marks the delivery sent: the message and the status commit
    # together, and the unique key keeps a second copy out whatever happens.
    InAppMessage.objects.get_or_create(
        notification_id=delivery.notification_id,
        user_id=delivery.user_id,
        defaults={"subject": rendered.subject, "body": rendered.text},
    )


SENDERS: dict[str, Callable[[Delivery, User, Rendered], None]] = {
    CHANNEL_EMAIL: send_email,
    CHANNEL_IN_APP: send_in_app,
}
