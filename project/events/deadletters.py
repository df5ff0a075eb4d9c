"""Dead letters: events a consumer gave up on after its retries, kept for inspection and replay."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone

from project.kernel.events import Envelope

from .models import DeadLetter

log = logging.getLogger(__name__)


def record_dead_letter(consumer: str, envelope: dict, error: str, *, attempts: int) -> DeadLetter:
    """Keep a failed event. A redelivery of one already kept (and not yet replayed) adds no row."""
    try:
        event_id = uuid.UUID(str(envelope.get("id")))
    except ValueError:
        event_id = None
    if event_id is not None:
        existing = DeadLetter.objects.filter(consumer=consumer, event_id=event_id, replayed_at__isnull=True).first()
        if existing is not None:
            return existing
    log.error("event %s dead-lettered for consumer %s after %d attempt(s): %s", event_id, consumer, attempts, error)
    return DeadLetter.objects.create(
        consumer=consumer,
        event_id=event_id,
        event_type=str(envelope.get("type", ""))[:100],
        envelope=envelope,
        error=error,
        attempts=attempts,
    )


class NotReplayable(ValueError):
    pass


def replay(dead_letter: DeadLetter) -> None:
    """Deliver a dead letter's event to its consumer again (after the cause was fixed).

    With a broker it goes to the consumer's queue only, with a fresh set of retries; embedded, the
    handlers run now. Either way the inbox still applies: an event that was in fact processed in
    the meantime is not processed twice. Should it fail again, a new dead letter is recorded.
    """
    from .relay import deliver_in_process, publish_to_consumer

    try:
        envelope = Envelope.from_dict(dead_letter.envelope)
    except Exception as exc:
        raise NotReplayable(f"dead letter {dead_letter.pk} is not a valid envelope: {exc}") from exc
    # Stamped first: should the event fail again, its new dead letter must not be taken for this one.
    dead_letter.replayed_at = timezone.now()
    dead_letter.save(update_fields=["replayed_at"])
    try:
        if settings.CELERY_BROKER_URL:
            publish_to_consumer(dead_letter.consumer, envelope)
        else:
            deliver_in_process(dead_letter.consumer, envelope)
    except Exception:
        dead_letter.replayed_at = None
        dead_letter.save(update_fields=["replayed_at"])
        raise


def replay_all(dead_letters: Iterable[DeadLetter]) -> tuple[int, list[str]]:
    """Replay each; returns how many were replayed and the problems with the others."""
    replayed, problems = 0, []
    for dead_letter in dead_letters:
        try:
            replay(dead_letter)
            replayed += 1
        except Exception as exc:
            problems.append(f"{dead_letter.pk}: {exc}")
    return replayed, problems
