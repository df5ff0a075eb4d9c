"""Several writes of one operation committed together, in one round trip on PostgreSQL (issue 24).

A login writes its session, its refresh token and the clean-up of its brute-force attempt. As
separate ORM calls in a transaction that is BEGIN, three statements and COMMIT: five round trips.
On PostgreSQL `write_together` sends them as one statement of data-modifying CTEs
(`WITH a AS (INSERT …), b AS (DELETE …) INSERT …`): in autocommit one statement is one transaction,
so the writes still commit or fail together, in one round trip and one commit, and no session
state outlives it (PgBouncer in transaction mode is fine). The SQL and its parameters come from the
ORM's own insert and delete compilers, so values are prepared as `save()` and `delete()` prepare
them. Foreign keys between the rows hold: Django creates them DEFERRABLE INITIALLY DEFERRED, checked
at the commit, after every CTE has run.

Elsewhere (SQLite) the same writes run one by one in a durable transaction.

`unless` makes the writes conditional on a read finding nothing (a login's session is written
unless the account has a second factor to ask for): on PostgreSQL the read is the statement's
first CTE, so the read and the writes are still one round trip, and see one snapshot.

What this skips, so only for plain rows: model signals, and the primary key of a row whose key
the database assigns (it is not read back; give such a row a key in Python or do not need it).
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.sql import DeleteQuery, InsertQuery
from psycopg import pq

from project.compiled import CompiledRead, Statement


def write_together(
    *, inserts: list[Model], deletes: list[QuerySet | Statement], unless: Statement | None = None
) -> bool:
    """Insert `inserts` (unsaved instances) and delete `deletes` (QuerySets, or the statements of
    `project.compiled.CompiledDelete`), all or nothing. The first insert's model picks the database;
    every write must go to that one. With `unless` (a read, `CompiledRead.statement`), nothing is
    written when it finds a row. Returns whether the writes were made."""
    alias = router.db_for_write(type(inserts[0])) or "default"
    if any(isinstance(rows, Statement) and rows.alias != alias for rows in [*deletes, unless] if rows is not None):
        raise ValueError(f"write_together writes to {alias!r} only.")
    if connections[alias].vendor != "postgresql":
        with transaction.atomic(using=alias, durable=True):
            if unless is not None and _finds_a_row(unless):
                return False
            for obj in inserts:
                obj.save(using=alias, force_insert=True)
            for rows in deletes:
                if isinstance(rows, Statement):
                    rows.run()
                else:
                    rows.using(alias).delete()
        return True
    connection = connections[alias]
    if connection.atomic_blocks and not connection.atomic_blocks[-1]._from_testcase:
        # As a durable atomic block would: a caller's transaction would make these writes commit
        # (or roll back) with its own, not as the one transaction this function promises.
        raise RuntimeError("write_together commits on its own: it cannot run inside another atomic block.")
    parts = [_insert_sql(obj, connection) for obj in inserts] + [_delete_sql(rows, alias) for rows in deletes]
    if unless is not None:
        # Every write is made conditional on the read's CTE (`guard`) finding nothing; the statement
        # itself answers whether they were made.
        parts = (
            [(unless.sql, tuple(unless.params))]
            + [(_unless_guard_insert(sql), params) for sql, params in parts[: len(inserts)]]
            + [(_unless_guard_delete(sql), params) for sql, params in parts[len(inserts) :]]
            + [("SELECT NOT EXISTS (SELECT 1 FROM guard)", ())]
        )
    names = (["guard"] if unless is not None else []) + [f"w{i}" for i in range(len(parts))]
    sql = parts[-1][0]
    if len(parts) > 1:
        ctes = zip(names[: len(parts) - 1], parts[:-1], strict=True)
        sql = "WITH " + ", ".join(f"{name} AS ({part_sql})" for name, (part_sql, _) in ctes) + " " + sql
    params = [param for _, part_params in parts for param in part_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = cursor.fetchone()[0] if unless is not None else True
    if written:
        for obj in inserts:  # as save() leaves them
            obj._state.adding = False
            obj._state.db = alias
    return written


def _finds_a_row(read: Statement) -> bool:
    with connections[read.alias].cursor() as cursor:
        cursor.execute(read.sql, read.params)
        return cursor.fetchone() is not None


_GUARD = "NOT EXISTS (SELECT 1 FROM guard)"
# What the insert compiler writes for one row of plain values: `… VALUES (%s, …, %s)`.
_VALUES = re.compile(r" VALUES \((%s(?:, %s)*)\)$")


def _unless_guard_insert(sql: str) -> str:
    """`INSERT INTO t (…) VALUES (…)` as `INSERT INTO t (…) SELECT … WHERE NOT EXISTS (guard)`."""
    match = _VALUES.search(sql)
    if match is None:
        raise ValueError(f"write_together(unless=…) inserts rows of plain values only, not: {sql}")
    return f"{sql[: match.start()]} SELECT {match.group(1)} WHERE {_GUARD}"


def _unless_guard_delete(sql: str) -> str:
    """`DELETE FROM t WHERE c` as `DELETE FROM t WHERE (c) AND NOT EXISTS (guard)`."""
    head, where, condition = sql.partition(" WHERE ")
    if not where:
        raise ValueError(f"write_together(unless=…) deletes rows chosen by a condition only, not: {sql}")
    return f"{head} WHERE ({condition}) AND {_GUARD}"


def insert_row(obj: Model) -> None:
    """`obj.save(force_insert=True)` for a plain row (no model signals), in one statement whose SQL
    is compiled once; a key the database assigns is read back with RETURNING (an integer key: no
    converter is applied to it). Elsewhere (a database without RETURNING) it is a `save()`."""
    alias = router.db_for_write(type(obj)) or "default"
    connection = connections[alias]
    if not connection.features.can_return_columns_from_insert:
        obj.save(using=alias, force_insert=True)
        return
    returning = obj.pk is None
    sql, params = _insert_sql(obj, connection, returning=returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            (obj.pk,) = connection.ops.fetch_returned_insert_columns(cursor, ())
    obj._state.adding = False
    obj._state.db = alias


def insert_row_then_read(obj: Model, read: CompiledRead, *values: Any, durable: bool = True) -> tuple | None:
    """`insert_row(obj)`, committed, then `read.first(*values)`: a statement of its own, after the
    commit, so it sees the row and every row committed before it.

    On PostgreSQL in autocommit mode that is one round trip: a simple-query message
    `BEGIN; INSERT …; COMMIT; SELECT …`, whose statements the server runs in that order, as if
    they were sent one by one (the read in a transaction of its own). With `durable=False` the
    commit does not wait for its WAL to reach the disk (`SET LOCAL synchronous_commit TO OFF`): the
    row is visible to every other transaction at once, as with a durable commit, but a crash of
    the database server within its WAL writer's delay (a fraction of a second) may lose it.
    Elsewhere (SQLite, inside a transaction or with autocommit off, server-side binding) it is the
    two calls."""
    alias = router.db_for_write(type(obj)) or "default"
    connection = connections[alias]
    statement = read.statement(*values)
    if (
        connection.vendor != "postgresql"
        or statement.alias != alias
        or connection.in_atomic_block
        or not connection.get_autocommit()  # a caller's transaction: COMMIT would end it
        or connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    ):
        insert_row(obj)
        return read.first(*values)
    returning = obj.pk is None
    insert_sql, insert_params = _insert_sql(obj, connection, returning=returning)
    asynchronous = "" if durable else "SET LOCAL synchronous_commit TO OFF; "
    sql = f"BEGIN; {asynchronous}{insert_sql}; COMMIT; {statement.sql}"
    with connection.cursor() as cursor:
        try:
            cursor.execute(sql, [*insert_params, *statement.params])
        except Exception:
            # A statement that failed inside BEGIN leaves its transaction open and aborted.
            if connection.connection.info.transaction_status == pq.TransactionStatus.INERROR:
                connection.connection.execute("ROLLBACK")
            raise
        results = cursor.cursor
        while not (results.statusmessage or "").startswith("INSERT"):
            results.nextset()
        if returning:
            (obj.pk,) = connection.ops.fetch_returned_insert_columns(cursor, ())
        while results.nextset():
            pass
        row = cursor.fetchone()
    obj._state.adding = False
    obj._state.db = alias
    return read.converted(alias, row)


# The INSERT statements already compiled, by model, columns, database and RETURNING: the SQL of a
# row depends only on those, its parameters on the values (issue 24: compiling the INSERTs was
# 5 % of a login's profiled overhead). Only the text is kept, so one dict serves every thread.
_INSERTS: dict[tuple, str] = {}


def _insert_sql(obj: Model, connection, returning: bool = False) -> tuple[str, tuple]:
    meta = obj._meta
    # As Model._save_table: a key the database assigns is left out while unset.
    fields = [
        field
        for field in meta.local_concrete_fields
        if not field.generated and not (field is meta.auto_field and obj.pk is None)
    ]
    # As SQLInsertCompiler.pre_save_val and prepare_value (auto_now fields take their time here).
    values = [field.pre_save(obj, True) for field in fields]
    key = (type(obj), tuple(field.attname for field in fields), connection.alias, returning)
    sql = _INSERTS.get(key)
    plain = not any(hasattr(value, "resolve_expression") for value in values)
    if sql is not None and plain:
        return sql, tuple(
            field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)
        )
    # An expression (a database default, say) is SQL of its own: such a row is compiled every time.
    query = InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk] if returning else None
    ((sql, params),) = compiler.as_sql()
    if plain and not compiler.returning_params and not any(hasattr(field, "get_placeholder") for field in fields):
        _INSERTS[key] = sql
    return sql, tuple(params)


def _delete_sql(rows: QuerySet | Statement, alias: str) -> tuple[str, tuple]:
    if isinstance(rows, Statement):
        return rows.sql, tuple(rows.params)
    query = rows.query.chain(DeleteQuery)
    sql, params = query.get_compiler(using=alias).as_sql()
    return sql, tuple(params)
