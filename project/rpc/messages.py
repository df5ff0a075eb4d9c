"""Protobuf conversions that are the same for every service; per-service mapping modules use them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


def timestamp(moment: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(moment.astimezone(UTC))
    return message


def from_timestamp(message: Timestamp) -> datetime:
    return message.ToDatetime(tzinfo=UTC)


def without_none(**fields: Any) -> dict[str, Any]:
    """Request fields to set: None is "unset" for an `optional` field (default, or unchanged)."""
    return {name: value for name, value in fields.items() if value is not None}


def present(message: Message, *names: str) -> dict[str, Any]:
    """The `optional` fields among `names` that the sender set, as keyword arguments: an unset one
    is left out, so the interface's own default (or "unchanged") applies."""
    return {name: getattr(message, name) for name in names if message.HasField(name)}


def optional(message: Message, name: str) -> Any:
    """An `optional` field's value, or None when unset."""
    return getattr(message, name) if message.HasField(name) else None


def int32(value: int) -> int:
    """`value` clamped into int32, for a field the server range-checks anyway: an out-of-range
    value then gets the server's validation error instead of a local encoding error."""
    return max(INT32_MIN, min(INT32_MAX, value))
