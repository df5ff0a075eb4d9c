"""Which database holds a core service's tables (split mode, `<SERVICE>_DATABASE_URL`).

A model of a core service's app is read and written in the service's own database when this
process has one configured under the service's name (project/settings.py adds it only when it is
not DATABASE_URL itself); everything else stays in `default`. The processes that host a service
run with DATABASE_URL pointing at the service's database, so inside them the service, its outbox
and its inbox share `default` and one transaction. Relations never cross databases: no model
refers to another service's models (import-linter keeps them private).
"""

from __future__ import annotations

from django.conf import settings


class ServiceDatabaseRouter:
    def _alias(self, model) -> str | None:
        service = _SERVICE_OF_APP.get(model._meta.app_label)
        return service if service in settings.DATABASES else None

    def db_for_read(self, model, **hints):
        return self._alias(model)

    def db_for_write(self, model, **hints):
        return self._alias(model)

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # A service's database is migrated by a process whose DATABASE_URL is that database
        # (scripts/stack does it): every table exists in every database, used or not.
        return None


_SERVICE_OF_APP = {label: service for service, label in settings.GATEHOUSE_SERVICE_APP_LABELS.items()}
