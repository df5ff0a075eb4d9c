import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from project import tracing
from project.events.relay import PublishFailed, relay_all


class Command(BaseCommand):
    help = "Publish pending outbox events. Safe to run several at once (rows are locked with SKIP LOCKED)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Publish what is pending now, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between sweeps (default 1).")
        parser.add_argument(
            "--min-age",
            type=float,
            default=None,
            help="Only rows older than this many seconds (default: all with --once, else GATEHOUSE_OUTBOX_SWEEP_AGE).",
        )

    def handle(self, *args, once, interval, min_age, **options):
        tracing.configure("relay")
        try:
            self._relay(once=once, interval=interval, min_age=min_age)
        finally:
            tracing.flush()

    def _relay(self, *, once, interval, min_age):
        if once:
            try:
                count = relay_all(older_than=min_age)
            except PublishFailed as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"published {count} event(s)")
            return
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        age = settings.GATEHOUSE_OUTBOX_SWEEP_AGE if min_age is None else min_age
        self.stdout.write(f"relaying outbox every {interval}s (rows older than {age}s)")
        while not stopping:
            # A connection broken by a database restart is replaced, not reused forever.
            close_old_connections()
            try:
                count = relay_all(older_than=age)
                if count:
                    self.stdout.write(f"published {count} event(s)")
            except Exception as exc:  # the broker or database is down: keep trying
                self.stderr.write(f"relay failed, retrying: {exc}")
            time.sleep(interval)
