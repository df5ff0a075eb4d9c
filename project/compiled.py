"""Hot reads whose SQL the ORM compiles once per database (issue 24).

Building a QuerySet, compiling it and turning the row into a model instance cost this machine
about 0.5 ms of Python a query, five times the round trip to PostgreSQL (docs/benchmarks.md,
issue 24 section). A `CompiledRead` lets the ORM write the statement once, with a stand-in value
for each of its parameters, and then runs that same statement with each new value, applying the
ORM's own converters to the row (so SQLite and PostgreSQL answer alike). It reads with the
database router's alias for the model, as the QuerySet would, and compiles once per thread and
database. A `CompiledDelete` does the same for a DELETE that `write_together` runs with other writes.

Only for statements on a hot path whose query has a fixed shape: the same SQL whatever the values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from django.db import connections, router
from django.db.models import Field, Model, QuerySet
from django.db.models.sql import DeleteQuery, Query


class Statement(NamedTuple):
    """One compiled statement bound to its values, for a caller that runs it with other writes."""

    alias: str
    sql: str
    params: list

    def run(self) -> None:
        """Run it on its own (in the caller's transaction, if any)."""
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, self.params)


class _Compiled:
    def __init__(
        self,
        model: type[Model],
        field: str | tuple[str, ...],
        build: Callable[..., QuerySet | Query],
        stand_in: Any,
        *,
        uses: int | tuple[int, ...] = 1,
    ):
        """`build(value)` returns the QuerySet (for a read, a `values_list`, so that rows are tuples)
        for one value of `model.field`; `stand_in` is a value of that field used to compile it once.

        With a tuple of fields, `build`, `first` and `stand_in` take one value per field, and
        `uses` says how many times the query uses each (a filter repeated in aggregates' FILTER
        clauses). `build` may return a Query, for an aggregate: a QuerySet has no shape for one.
        The count is checked when the query is compiled: a stand-in that is also a constant of
        the query would otherwise have the constant replaced by the caller's value."""
        fields = (field,) if isinstance(field, str) else field
        self._model = model
        self._fields: tuple[Field, ...] = tuple(model._meta.get_field(name) for name in fields)  # type: ignore[misc]
        self._build = build
        self._stand_ins = (stand_in,) if isinstance(field, str) else tuple(stand_in)
        self._uses = (uses,) * len(fields) if isinstance(uses, int) else uses
        # Per thread, as Django's connections are: the compiler (and its converters) keeps the
        # connection it was built for (gRPC servers and threaded workers read from several threads).
        self._local = threading.local()

    def _query(self, built: QuerySet | Query) -> Query:
        return getattr(built, "query", built)

    def _alias(self) -> str:
        return router.db_for_read(self._model) or "default"

    def _compile(self, alias: str):
        connection = connections[alias]
        compiler = self._query(self._build(*self._stand_ins)).get_compiler(using=alias)
        sql, params = compiler.as_sql()
        positions = []
        for field, stand_in, uses in zip(self._fields, self._stand_ins, self._uses, strict=True):
            placeholder = field.get_db_prep_value(stand_in, connection)
            positions.append([i for i, param in enumerate(params) if param == placeholder])
            if len(positions[-1]) != uses:
                times = "once" if uses == 1 else f"{uses} times"
                raise ValueError(f"{self._model.__name__}.{field.name}: the query must use its value exactly {times}")
        fields = [column[0] for column in compiler.select[: compiler.col_count]] if compiler.select else []
        entry = (sql, tuple(params), positions, compiler, compiler.get_converters(fields))
        self._compiled()[alias] = entry
        return entry

    def _compiled(self) -> dict[str, tuple[str, tuple, list[list[int]], Any, dict]]:
        try:
            return self._local.compiled
        except AttributeError:
            self._local.compiled = {}
            return self._local.compiled

    def statement(self, *values: Any) -> Statement:
        """The statement for `values`: its database alias, SQL and parameters."""
        alias = self._alias()
        sql, params, positions, _, _ = self._compiled().get(alias) or self._compile(alias)
        connection = connections[alias]
        bound = list(params)
        for field, value, at in zip(self._fields, values, positions, strict=True):
            prepared = field.get_db_prep_value(value, connection)
            for position in at:
                bound[position] = prepared
        return Statement(alias, sql, bound)


class CompiledRead(_Compiled):
    def first(self, *values: Any) -> tuple | None:
        """The query's first row for `values` (converted as the ORM would), or None."""
        return self._first(values)[1]

    def instance(self, *values: Any) -> Model | None:
        """The first row as a model instance, as the ORM builds it (`Model.from_db`): the query
        must select every concrete field, by attname, in the model's order (`model_columns`)."""
        alias, row = self._first(values)
        if row is None:
            return None
        meta = self._model._meta
        return self._model.from_db(alias, [field.attname for field in meta.concrete_fields], row)

    def converted(self, alias: str, row: tuple | None) -> tuple | None:
        """A row of this query's statement (`statement`), run by the caller, as `first` returns it."""
        if row is None:
            return None
        _, _, _, compiler, converters = self._compiled()[alias]
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        return tuple(row)

    def _first(self, values: tuple) -> tuple[str, tuple | None]:
        alias, sql, params = self.statement(*values)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return alias, self.converted(alias, row)


class CompiledDelete(_Compiled):
    """The DELETE of the rows `build(*values)` selects, compiled once, as a `Statement` for
    `project.writes.write_together` to run with its other writes. The database deletes them and
    nothing else: no signals, no cascades (as QuerySet.delete's fast path, for plain rows)."""

    def _query(self, built: QuerySet | Query) -> Query:
        return super()._query(built).chain(DeleteQuery)

    def _alias(self) -> str:
        return router.db_for_write(self._model) or "default"


def model_columns(model: type[Model]) -> tuple[str, ...]:
    """What a `CompiledRead.instance` query selects: `values_list(*model_columns(model))`."""
    return tuple(field.attname for field in model._meta.concrete_fields)
