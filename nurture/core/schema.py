"""Migration operations for changes Django's own would make at a needless cost."""

from __future__ import annotations

from django.db import migrations


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
