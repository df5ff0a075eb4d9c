"""The event envelope (docs/events.md), shared by producers and consumers of every module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ENVELOPE_VERSION = 1


def rfc3339(moment: datetime) -> str:
    """UTC, second fraction kept, `Z` suffix (docs/api.md)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    producer: str
    payload: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: int = ENVELOPE_VERSION
    request_id: str | None = None
    # The W3C trace context of the hop that sent it (docs/events.md); only when tracing is on.
    traceparent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "id": str(self.id),
            "type": self.type,
            "occurred_at": rfc3339(self.occurred_at),
            "producer": self.producer,
            "version": self.version,
            "request_id": self.request_id,
            "payload": self.payload,
        }
        if self.traceparent:
            data["traceparent"] = self.traceparent
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        return cls(
            id=uuid.UUID(str(data["id"])),
            type=str(data["type"]),
            occurred_at=parse_rfc3339(str(data["occurred_at"])),
            producer=str(data["producer"]),
            version=int(data["version"]),
            request_id=data.get("request_id"),
            payload=dict(data["payload"]),
            traceparent=data["traceparent"] if isinstance(data.get("traceparent"), str) else None,
        )
