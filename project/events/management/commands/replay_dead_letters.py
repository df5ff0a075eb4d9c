from django.core.management.base import BaseCommand, CommandError

from project.events.deadletters import replay_all
from project.events.models import DeadLetter


class Command(BaseCommand):
    help = "Deliver dead-lettered events to their consumer again (after fixing the cause)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="Dead letters to replay (default: all not yet replayed).")
        parser.add_argument("--consumer", help="Only dead letters of this consumer.")
        parser.add_argument("--type", dest="event_type", help="Only dead letters of this event type.")

    def handle(self, *args, ids, consumer, event_type, **options):
        dead_letters = DeadLetter.objects.filter(replayed_at__isnull=True).order_by("created_at")
        if ids:
            dead_letters = dead_letters.filter(pk__in=ids)
        if consumer:
            dead_letters = dead_letters.filter(consumer=consumer)
        if event_type:
            dead_letters = dead_letters.filter(event_type=event_type)
        replayed, problems = replay_all(list(dead_letters))
        self.stdout.write(f"replayed {replayed} dead letter(s)")
        if problems:
            raise CommandError("not replayed: " + "; ".join(problems))
