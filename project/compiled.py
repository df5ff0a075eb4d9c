"""Hot one-row reads whose SQL the ORM compiles once per database (issue 24).

Building a QuerySet, compiling it and turning the row into a model instance cost this machine
about 0.5 ms of Python a query, five times the round trip to PostgreSQL (docs/benchmarks.md,
issue 24 section). A `CompiledRead` lets the ORM write the statement once, with a stand-in value
for its one parameter, and then runs that same statement with each new value, applying the ORM's
own converters to the row (so SQLite and PostgreSQL answer alike). It reads with the database
router's alias for the model, as the QuerySet would, and compiles once per thread and database.

Only for reads on a hot path whose query has exactly one variable value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model, QuerySet


class CompiledRead:
    def __init__(self, model: type[Model], field: str, build: Callable[[Any], QuerySet], stand_in: Any):
        """`build(value)` returns the QuerySet (a `values_list`, so that rows are tuples) for one
        value of `model.field`; `stand_in` is a value of that field used to compile it once."""
        self._model = model
        self._field: Field = model._meta.get_field(field)  # type: ignore[assignment]
        self._build = build
        self._stand_in = stand_in
        # Per thread, as Django's connections are: the compiler (and its converters) keeps the
        # connection it was built for (gRPC servers and threaded workers read from several threads).
        self._local = threading.local()

    def _compile(self, alias: str):
        connection = connections[alias]
        compiler = self._build(self._stand_in).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        placeholder = self._field.get_db_prep_value(self._stand_in, connection)
        positions = [i for i, param in enumerate(params) if param == placeholder]
        if len(positions) != 1:
            raise ValueError(f"{self._model.__name__}.{self._field.name}: the query must use its value exactly once")
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        entry = (sql, tuple(params), positions[0], compiler, compiler.get_converters(fields))
        self._compiled()[alias] = entry
        return entry

    def _compiled(self) -> dict[str, tuple[str, tuple, int, Any, dict]]:
        try:
            return self._local.compiled
        except AttributeError:
            self._local.compiled = {}
            return self._local.compiled

    def first(self, value: Any) -> tuple | None:
        """The query's first row for `value` (converted as the ORM would), or None."""
        alias = router.db_for_read(self._model) or "default"
        entry = self._compiled().get(alias) or self._compile(alias)
        sql, params, position, compiler, converters = entry
        connection = connections[alias]
        bound = list(params)
        bound[position] = self._field.get_db_prep_value(value, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            row = cursor.fetchone()
        if row is None:
            return None
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        return tuple(row)
