"""Write helpers for the capture path, where building an ORM statement costs more than running it.

Under load, a capture's inserts and updates built by Django (bulk_create's UNNEST arrays, dumped element by element
in Python; bulk_update's CASE per row and column) took a third of the web processes' CPU. These build the same
statements' plain forms by hand: a multi-row insert, and an UPDATE from a VALUES list. Values go through each
field's pre_save and its preparation for the database, as in Django's own compilers; no signals are sent, as with
bulk_create.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import AutoField, Field, Model
from django.db.models.constants import OnConflict


def insert(objs: Sequence[Model], *, ignore_conflicts: bool = False) -> None:
    """`QuerySet.bulk_create` for new rows of one model (their related objects already saved): the objects get
    their primary keys, unless `ignore_conflicts`, where a row that conflicts with a unique constraint is skipped
    and, as with bulk_create, no key is set."""
    if not objs:
        return
    db = connections[DEFAULT_DB_ALIAS]  # the thread's connection, not the proxy looked up again for every value
    model = type(objs[0])
    fields, pk = _inserted(model), model._meta.pk
    postgres = db.vendor == "postgresql"
    size = _batch_size(fields, objs)
    for start in range(0, len(objs), size):
        batch = objs[start : start + size]
        sql, returning = _insert_sql(model, 0 if postgres else len(batch), ignore_conflicts, db.vendor)
        if postgres:
            # The rows as one JSON document: psycopg quotes each parameter in Python, and parses again a statement
            # of more than 50 parameters on every call, which took a tenth of the web processes' CPU under load.
            rows = [{f.column: f.get_prep_value(f.pre_save(obj, True)) for f in fields} for obj in batch]
            params = [json.dumps(rows, default=_json_value)]
        else:
            params = [f.get_db_prep_save(f.pre_save(obj, True), db) for obj in batch for f in fields]
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            if returning:
                for obj, (key,) in zip(batch, cursor.fetchall(), strict=True):
                    setattr(obj, pk.attname, key)
    for obj in objs:
        obj._state.adding, obj._state.db = False, db.alias


@functools.cache
def _inserted(model: type[Model]) -> list[Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not isinstance(f, AutoField) and not f.generated]


@functools.lru_cache(maxsize=1024)
def _insert_sql(model: type[Model], rows: int, ignore_conflicts: bool, vendor: str) -> tuple[str, bool]:
    """The INSERT of the model's rows, and whether it returns their keys: kept per database `vendor`, as captures
    build the same few again and again. PostgreSQL's reads the rows from one JSON document, others' take `rows`
    rows of values."""
    fields, pk = _inserted(model), model._meta.pk
    table, columns = connection.ops.quote_name(model._meta.db_table), ", ".join(_column(f) for f in fields)
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    returning = not ignore_conflicts and isinstance(pk, AutoField)
    if vendor == "postgresql":
        rows_sql = f"SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    else:
        rows_sql = "VALUES " + ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * rows)
    sql = (
        f"{connection.ops.insert_statement(on_conflict=on_conflict)} {table} ({columns}) {rows_sql}"
        f"{connection.ops.on_conflict_suffix_sql(fields, on_conflict, [], []) or ''}"
        f"{f' RETURNING {_column(pk)}' if returning else ''}"
    )
    return sql, returning


def _json_value(value: Any) -> Any:
    """A value json cannot write, as PostgreSQL reads it into its column: times and dates in ISO 8601 (every
    digit of the microseconds), UUIDs and decimals as text."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def bulk_update(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """`QuerySet.bulk_update`: one UPDATE whose rows come from a VALUES list (a plain UPDATE for one object)."""
    if not objs:
        return
    opts = type(objs[0])._meta
    chosen: list[Field[Any, Any]] = [f for f in opts.concrete_fields if f.name in fields and not f.primary_key]
    if len(chosen) != len(set(fields)):
        raise ValueError(f"not all of {fields} are concrete fields of {type(objs[0]).__name__}")
    if len(objs) == 1:
        obj = objs[0]
        type(obj)._default_manager.filter(pk=obj.pk).update(**{f.attname: getattr(obj, f.attname) for f in chosen})
        return
    table, pk = connection.ops.quote_name(opts.db_table), opts.pk
    columns = [pk, *chosen]
    # PostgreSQL types a VALUES column by its first row, and would read an untyped NULL or date literal as text.
    casts = [f"CAST(%s AS {f.cast_db_type(connection)})" for f in columns]
    first = "(" + ", ".join(casts if connection.vendor == "postgresql" else ["%s"] * len(columns)) + ")"
    rest = "(" + ", ".join(["%s"] * len(columns)) + ")"
    names = ", ".join(_column(f, "v_") for f in columns)
    sets = ", ".join(f"{_column(f)} = v.{_column(f, 'v_')}" for f in chosen)
    size = _batch_size(columns, objs)
    for start in range(0, len(objs), size):
        batch = objs[start : start + size]
        params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in batch for f in columns]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH v ({names}) AS (VALUES {', '.join([first] + [rest] * (len(batch) - 1))}) "
                f"UPDATE {table} SET {sets} FROM v WHERE {table}.{_column(pk)} = v.{_column(pk, 'v_')}",
                params,
            )


def _batch_size(fields: Sequence[Field[Any, Any]], objs: Sequence[Model]) -> int:
    """Rows per statement: the backend's limit (SQLite's on variables), and a thousand at most (a statement of a
    million values would be built whole in memory)."""
    return max(1, min(connection.ops.bulk_batch_size(fields, objs) or len(objs), 1000))


def _column(field: Field[Any, Any], prefix: str = "") -> str:
    return connection.ops.quote_name(f"{prefix}{field.column}")
