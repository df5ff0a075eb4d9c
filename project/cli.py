"""The `gatehouse` command (installed by `pip install`): Django's manage.py, anywhere."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A configuration mistake deserves one line saying what to set, not a traceback.
        sys.exit(f"{os.path.basename(sys.argv[0])}: configuration error: {exc}")


if __name__ == "__main__":
    main()
