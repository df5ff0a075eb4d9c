"""A process that dies right after committing a user's registration, before the outbox fast path
runs: `python -m tests.events.crash_after_commit <email> <request id>` exits with CRASH_EXIT_CODE.

Its on_commit callback is registered when the user row is saved, before `outbox_record` registers
the fast path's; on_commit callbacks run in order, so the process is gone before publishing.
"""

import os
import sys

CRASH_EXIT_CODE = 17


def main(email: str, request_id: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.db.models.signals import post_save

    from project.kernel.context import request_id_scope
    from users.core.services import create_user
    from users.models import User

    def die_after_commit(sender, **kwargs):
        transaction.on_commit(lambda: os._exit(CRASH_EXIT_CODE))

    post_save.connect(die_after_commit, sender=User)
    with request_id_scope(request_id):
        create_user(email=email)
    sys.exit("still alive after the commit")


if __name__ == "__main__":
    main(*sys.argv[1:3])
