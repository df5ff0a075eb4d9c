"""Opaque keyset cursors: a page's last (timestamp, id), newest-first pages. Standard library only."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime


def encode_keyset_cursor(at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_keyset_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (timestamp, id) a cursor carries. Raises ValueError for anything that is not one of ours
    (including a timestamp without a time zone)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, uuid.UUID(row_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, AttributeError):
        raise ValueError("invalid cursor") from None
