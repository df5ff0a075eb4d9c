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
