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


def plain_text(value, max_length: int, *, trim: bool = True, allow_blank: bool = False) -> str | None:
    """A StringField's validated value, when `value` is plainly valid: an ASCII string without NUL
    (so no surrogates either), trimmed as the field trims (`trim`), within `max_length`, not blank
    unless `allow_blank`. None for anything else: the serializer then decides (issue 24: a
    serializer instance costs a hot endpoint more than its own work)."""
    if type(value) is not str or not value.isascii() or "\x00" in value:
        return None
    if trim:
        value = value.strip()
    return value if (value or allow_blank) and len(value) <= max_length else None
