"""The channels a delivery can go out on, by name.

A channel is one module that makes a `Channel` (base.py: whether it is configured, how it sends,
what it does after sending), registered here. Its name must also be one of the interface's
`CHANNEL_*` values and a choice of `Delivery.channel`, and a type must list it to use it
(docs/architecture.md, "adding a channel").
"""

from __future__ import annotations

from . import email, in_app, webhook
from .base import Channel, PermanentFailure

CHANNELS: dict[str, Channel] = {channel.name: channel for channel in (email.CHANNEL, in_app.CHANNEL, webhook.CHANNEL)}

__all__ = ["CHANNELS", "Channel", "PermanentFailure"]
