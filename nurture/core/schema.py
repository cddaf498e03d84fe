"""Migration operations for changes Django's own would make at a needless cost."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def unindexed_key(app: str, model: str, name: str, index: str, **key: Any) -> migrations.SeparateDatabaseAndState:
    """A foreign key (`key`: its arguments, as the model declares them) made db_index=False: its index `index`
    dropped, and nothing else. For that change Django's AlterField also drops the key's constraint and adds it back
    on PostgreSQL, checking every row again, and copies the whole table on SQLite."""
    table, column = f"{app}_{model}", f"{name}_id"
    field = models.ForeignKey(db_index=False, **key)
    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model, name=name, field=field)],
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
