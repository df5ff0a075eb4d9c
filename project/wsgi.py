import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()

# Import every URLconf and view now, while the worker boots, not in its first request: Django
# loads them lazily, which made each new worker's first request take seconds (the whole app
# imported under load). A gunicorn worker accepts no connection before this module returns, so a
# started or restarted instance only ever answers warm.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
