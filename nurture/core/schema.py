"""Migration operations for changes Django's own would make at a needless cost."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def index_dropped(
    alter: migrations.AlterField, index: str, table: str, column: str
) -> migrations.SeparateDatabaseAndState:
    """A foreign key's own index dropped (`alter` sets db_index=False), and nothing else: for that change Django's
    AlterField also drops the key's constraint and adds it back on PostgreSQL, checking every row again, and
    copies the whole table on SQLite."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[alter],
        database_operations=[
            migrations.RunSQL(f'DROP INDEX IF EXISTS "{index}"', f'CREATE INDEX "{index}" ON "{table}" ("{column}")')
        ],
    )


def like_index_dropped(
    model: str, column: str, field: models.CharField, table: str, constraint: str, like_index: str
) -> migrations.SeparateDatabaseAndState:
    """A unique text column (`field`, now without unique=True) kept unique by a constraint named as the one
    PostgreSQL already has, and the pattern-matching (LIKE) index Django adds beside it on PostgreSQL dropped:
    no query matches these keys by pattern, and it is one more write per row."""

    def create(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'CREATE INDEX "{like_index}" ON "{table}" ("{column}" varchar_pattern_ops)')

    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(model_name=model, name=column, field=field),
            migrations.AddConstraint(
                model_name=model, constraint=models.UniqueConstraint(fields=[column], name=constraint)
            ),
        ],
        database_operations=[
            migrations.RunSQL(f'DROP INDEX IF EXISTS "{like_index}"', migrations.RunSQL.noop),
            migrations.RunPython(migrations.RunPython.noop, create),
        ],
    )


def unindexed_key(app: str, model: str, name: str, index: str, **key: Any) -> migrations.SeparateDatabaseAndState:
    """A nullable foreign key (`key`: to, on_delete, related_name) made db_index=False, its index `index` dropped."""
    field = models.ForeignKey(blank=True, null=True, db_index=False, **key)
    alter = migrations.AlterField(model_name=model, name=name, field=field)
    return index_dropped(alter, index, f"{app}_{model}", f"{name}_id")
