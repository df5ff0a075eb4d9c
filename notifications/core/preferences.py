"""Preferences: which types a user receives on which channel."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from notifications.interface import InvalidPreferences, Preference
from notifications.models import Preference as PreferenceModel

from .types import TYPES


def _clean_preferences(preferences: Any) -> list[tuple[str, str, bool]]:
    if not isinstance(preferences, list | tuple):
        raise InvalidPreferences(details={"preferences": {"": ["Must be a list."]}})
    problems: dict[str, list[str]] = {}
    cleaned: dict[tuple[str, str], bool] = {}
    for preference in preferences:
        type_code, channel, enabled = (
            getattr(preference, "type", None),
            getattr(preference, "channel", None),
            getattr(preference, "enabled", None),
        )
        where = f"{str(type_code)[:64]}.{str(channel)[:32]}"
        definition = TYPES.get(type_code) if isinstance(type_code, str) else None
        if definition is None:
            problems.setdefault(where, []).append("Unknown notification type.")
        elif channel not in definition.channels:
            problems.setdefault(where, []).append(f"Not a channel of this type ({', '.join(definition.channels)}).")
        elif not isinstance(enabled, bool):
            problems.setdefault(where, []).append("enabled must be true or false.")
        elif definition.mandatory and not enabled:
            problems.setdefault(where, []).append("A mandatory notification cannot be turned off.")
        elif (type_code, channel) in cleaned:
            problems.setdefault(where, []).append("Given more than once.")
        else:
            cleaned[(type_code, channel)] = enabled
    if problems:
        raise InvalidPreferences(details={"preferences": problems})
    return [(type_code, channel, enabled) for (type_code, channel), enabled in cleaned.items()]


@transaction.atomic(durable=True)
def set_preferences(*, user_id: uuid.UUID, preferences: list[Preference]) -> None:
    """All or nothing. A mandatory type may be "turned on" (a no-op); nothing is stored for it."""
    now = timezone.now()
    for type_code, channel, enabled in _clean_preferences(preferences):
        if TYPES[type_code].mandatory:
            continue
        PreferenceModel.objects.update_or_create(
            user_id=user_id, type=type_code, channel=channel, defaults={"enabled": enabled, "updated_at": now}
        )
