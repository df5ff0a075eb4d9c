import argparse
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from project.events.deadletters import replay_all
from project.events.models import DeadLetter


def _dead_letter_ref(value: str) -> uuid.UUID | int:
    """An event's id, as the logs, the admin and every other command name it; or the number of a
    dead letter that had no valid envelope (so no event id)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event id (a UUID) or a dead letter number: {value!r}") from None


class Command(BaseCommand):
    help = "Deliver dead-lettered events to their consumer again (after fixing the cause)."

    def add_arguments(self, parser):
        parser.add_argument(
            "ids",
            nargs="*",
            type=_dead_letter_ref,
            help="Event ids (UUIDs; every consumer's dead letter of that event), or dead letter numbers "
            "(default: all not yet replayed).",
        )
        parser.add_argument("--consumer", help="Only dead letters of this consumer.")
        parser.add_argument("--type", dest="event_type", help="Only dead letters of this event type.")

    def handle(self, *args, ids, consumer, event_type, **options):
        dead_letters = DeadLetter.objects.filter(replayed_at__isnull=True).order_by("created_at")
        if consumer:
            dead_letters = dead_letters.filter(consumer=consumer)
        if event_type:
            dead_letters = dead_letters.filter(event_type=event_type)
        if ids:
            event_ids = {ref for ref in ids if isinstance(ref, uuid.UUID)}
            numbers = {ref for ref in ids if isinstance(ref, int)}
            dead_letters = dead_letters.filter(Q(event_id__in=event_ids) | Q(pk__in=numbers))
            found = {ref for dead_letter in dead_letters for ref in (dead_letter.event_id, dead_letter.pk)}
            missing = [str(ref) for ref in ids if ref not in found]
            if missing:
                # Before replaying anything: a mistyped id must not leave half a replay behind.
                raise CommandError(f"no dead letter waiting for replay: {', '.join(missing)}; nothing replayed")
        replayed, problems = replay_all(list(dead_letters))
        self.stdout.write(f"replayed {replayed} dead letter(s)")
        if problems:
            raise CommandError("not replayed: " + "; ".join(problems))
