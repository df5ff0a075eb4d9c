"""The email channel: a text and HTML mail through the configured mail backend (`EMAIL_URL`)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.interface import CHANNEL_EMAIL
from notifications.models import Delivery
from project import tracing
from users.interface import User

from ..rendering import Rendered
from ..types import TYPES
from .base import Channel, PermanentFailure

# Seconds an SMTP conversation may take before it counts as a (retried) failure. Without one a
# dead mail server would hold a worker forever.
DEFAULT_EMAIL_TIMEOUT = 10.0


def _address(delivery: Delivery, user: User) -> str:
    """The user's email, or, for a type that names another (a new address being verified, the old
    one told of a change), the address in the notification's context."""
    definition = TYPES.get(delivery.notification.type)
    if definition is not None and definition.system and definition.email_to:
        return delivery.notification.context.get(definition.email_to) or user.email
    return user.email


def send_email(delivery: Delivery, user: User, rendered: Rendered) -> None:
    address = _address(delivery, user)
    if not address:
        raise PermanentFailure("the user has no email address")
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_EMAIL_TIMEOUT
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers={"X-Gatehouse-Notification": str(delivery.notification_id)},
        connection=get_connection(timeout=timeout),
    )
    message.attach_alternative(rendered.html, "text/html")
    # The SMTP delivery: ids only, never the address or the body.
    attributes = {"notification.id": str(delivery.notification_id), "notification.type": delivery.notification.type}
    with tracing.span("smtp.send", attributes, kind="client"):
        message.send()


CHANNEL = Channel(name=CHANNEL_EMAIL, send=send_email)
