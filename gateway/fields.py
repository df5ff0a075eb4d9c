"""Serializer fields every app service's API shares."""

from __future__ import annotations

from rest_framework import serializers


class StringField(serializers.CharField):
    """Input is a JSON string: a number or a boolean is refused, not turned into text (DRF's
    CharField would accept `{"refresh_token": 1}` as "1", `{"display_name": 7}` as "7")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PageLimitField(serializers.IntegerField):
    """`?limit=`: at least 1; above the page maximum it is clamped to it, not refused (the
    pagination of docs/api.md: a client asking for more gets a full page and a cursor)."""

    def __init__(self, *, maximum: int, **kwargs):
        self.maximum = maximum
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("help_text", f"Page size, at most {maximum} (larger values are clamped).")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return min(super().to_internal_value(data), self.maximum)
