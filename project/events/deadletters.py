"""Replaying dead letters: events a consumer gave up on after its retries (`consumers.py` records
them), delivered to that consumer again once the cause is fixed (the admin, `replay_dead_letters`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone

from project.kernel.events import Envelope

from .consumers import deliver_in_process
from .models import DeadLetter
from .publishing import publish_to_queue
from .topology import queue_name


class NotReplayable(ValueError):
    pass


def replay(dead_letter: DeadLetter) -> None:
    """Deliver a dead letter's event to its consumer again (after the cause was fixed).

    With a broker it goes to the consumer's queue only, with a fresh set of retries; embedded, the
    handlers run now. Either way the inbox still applies: an event that was in fact processed in
    the meantime is not processed twice. Should it fail again, a new dead letter is recorded.
    """
    try:
        envelope = Envelope.from_dict(dead_letter.envelope)
    except Exception as exc:
        raise NotReplayable(f"dead letter {dead_letter.pk} is not a valid envelope: {exc}") from exc
    # Stamped first: should the event fail again, its new dead letter must not be taken for this one.
    dead_letter.replayed_at = timezone.now()
    dead_letter.save(update_fields=["replayed_at"])
    try:
        if settings.CELERY_BROKER_URL:
            publish_to_queue(queue_name(dead_letter.consumer), envelope)
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


def dead_letters_waiting() -> int:
    """Dead letters not yet replayed (the dead-letter metric)."""
    return DeadLetter.objects.filter(replayed_at__isnull=True).count()
