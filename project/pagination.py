"""Cursor pagination (docs/api.md): pages `{"results": [...], "next": <cursor or null>}` asked for
with `?limit=` and `?cursor=`, the cursor opaque to clients.

- `keyset_page`: a page of a queryset, newest first by (timestamp, id), for the core services'
  list selectors: every page costs the same however deep, and rows added meanwhile never shift
  one. Its cursor carries the page's last (timestamp, id).
- `offset_page`: a page of a short list the API loaded whole (the RBAC registry, roles, groups; a
  notification's deliveries). Its cursor carries the offset.
- `PageInput`, `PageLimitField`, `paged`: the API's query parameters and the schema of its pages.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from django.db.models import Q, QuerySet
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from project.kernel.errors import DomainError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
INVALID_CURSOR = {"cursor": ["Invalid cursor."]}


def _encode(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode(cursor: str) -> object:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def keyset_page(
    rows: QuerySet, *, by: str, limit: int, cursor: str | None, invalid: type[DomainError]
) -> tuple[list, str | None]:
    """Up to `limit` rows newest first by (`by`, id) after `cursor`, and the next page's cursor
    (None on the last page). A bad limit or cursor raises `invalid`, the service's InvalidArgument
    error, with the field in its details."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise invalid(
            f"limit must be between 1 and {MAX_PAGE_SIZE}.", details={"limit": [f"Must be 1..{MAX_PAGE_SIZE}."]}
        )
    if cursor:
        try:
            at, row_id = _decode(cursor)
            at, row_id = datetime.fromisoformat(at), uuid.UUID(row_id)
            if at.tzinfo is None:
                raise ValueError("a timestamp without a time zone")
        except (ValueError, TypeError, AttributeError):  # binascii, JSON and Unicode errors are ValueErrors
            raise invalid("The cursor is not valid.", details=INVALID_CURSOR) from None
        rows = rows.filter(Q(**{f"{by}__lt": at}) | Q(**{by: at, "id__lt": row_id}))
    page = list(rows.order_by(f"-{by}", "-id")[: limit + 1])
    last = page[limit - 1] if len(page) > limit else None
    return page[:limit], None if last is None else _encode([getattr(last, by).isoformat(), str(last.id)])


def offset_page(items: list, *, limit: int, cursor: str | None) -> tuple[list, str | None]:
    """The `limit` items after `cursor`, and the next page's cursor (None on the last page). A
    cursor that is not one of ours is a 400 on `cursor`."""
    try:
        start = _decode(cursor) if cursor else 0
    except ValueError:
        raise ValidationError(INVALID_CURSOR) from None
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValidationError(INVALID_CURSOR)
    end = start + limit
    next_cursor = _encode(end) if end < len(items) else None
    return items[start:end], next_cursor


class PageLimitField(serializers.IntegerField):
    """`?limit=`: at least 1; above the page maximum it is clamped to it, not refused (the
    pagination of docs/api.md: a client asking for more gets a full page and a cursor)."""

    def __init__(self, *, maximum: int = MAX_PAGE_SIZE, **kwargs):
        self.maximum = maximum
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("help_text", f"Page size, at most {maximum} (larger values are clamped).")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return min(super().to_internal_value(data), self.maximum)


class PageInput(serializers.Serializer):
    """`?limit=` and `?cursor=`; a list's filters subclass it."""

    limit = PageLimitField(required=False, default=DEFAULT_PAGE_SIZE)
    cursor = serializers.CharField(required=False, max_length=512)


def paged(name: str, output: type[serializers.Serializer], **extra: serializers.Field) -> serializers.Serializer:
    """The schema of a page of `output` (with `extra` fields beside `results` and `next`)."""
    return inline_serializer(
        name, {"results": output(many=True), "next": serializers.CharField(allow_null=True), **extra}
    )
