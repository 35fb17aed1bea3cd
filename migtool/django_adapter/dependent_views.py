"""Views that read a column or table the revert drops: silently dropped, refused, or left broken.

Reverting ``AddField`` drops its column, reverting ``CreateModel`` its table.
Django up to 5.2 sends ``DROP COLUMN ... CASCADE`` on PostgreSQL, and every
version ``DROP TABLE ... CASCADE``, which drop every view reading it, and the
views built on those, without a word; Django 6.0 dropped the column's
``CASCADE``, so PostgreSQL refuses that revert instead.  SQLite refuses a
dropped column too but lets a table go, MariaDB lets both go and leaves the
view failing when read (``backend_facts``).  Views are not in the migration
state, so the only way to know is to ask the database's catalog, which
``views_reading`` does.
"""

from __future__ import annotations

import re

from django.db import DatabaseError, transaction

from migtool.django_adapter.backend_facts import facts
from migtool.django_adapter.data_probe import Revert

# Views depending on one column (or, given NULL, the table), and the views built on those: what CASCADE drops.
_POSTGRESQL_VIEWS = """
WITH RECURSIVE dependent(oid) AS (
    SELECT rule.ev_class FROM pg_depend dep
    JOIN pg_rewrite rule ON rule.oid = dep.objid
    LEFT JOIN pg_attribute att ON att.attrelid = dep.refobjid AND att.attnum = dep.refobjsubid
    WHERE dep.refobjid = %s::regclass AND (%s::text IS NULL OR att.attname = %s) AND rule.ev_class <> dep.refobjid
    UNION
    SELECT rule.ev_class FROM dependent
    JOIN pg_depend dep ON dep.refobjid = dependent.oid
    JOIN pg_rewrite rule ON rule.oid = dep.objid
    WHERE rule.ev_class <> dependent.oid
)
SELECT DISTINCT relname FROM dependent JOIN pg_class ON pg_class.oid = dependent.oid ORDER BY relname
"""
# MariaDB/MySQL store a view's definition with every column as `db`.`table`.`column`.
_MYSQL_VIEWS = (
    "SELECT TABLE_NAME FROM information_schema.VIEWS "
    "WHERE TABLE_SCHEMA = DATABASE() AND VIEW_DEFINITION LIKE %s ORDER BY TABLE_NAME"
)
_SQLITE_VIEWS = "SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name"


def views_reading(revert: Revert, table: str, column: str | None = None) -> None:
    """Record what dropping ``table.column`` (or, without ``column``, ``table``) does to the views reading it."""
    known = facts(revert.connection)
    if known is None:
        return
    views = _dependent_views(revert, table, column)
    if not views:
        return
    names = ", ".join(views)
    editor = revert.connection.SchemaEditorClass
    if column is None:
        what, sql, fate = f"table {table}", editor.sql_delete_table, known.views_on_dropped_table
    else:
        what, sql, fate = f"{table}.{column}", editor.sql_delete_column, known.views_on_dropped_column
    if "CASCADE" in sql:
        revert.data_loss.append(f"drops view {names} with {what} (Django's DROP ... CASCADE)")
    elif fate == "refused":
        revert.blockers.append(f"Reverting drops {what}, but view {names} reads it, so the database refuses.")
    else:
        effect = f"; {known.broken_view_effect}" if known.broken_view_effect else ""
        revert.data_loss.append(f"leaves view {names} reading the dropped {what}: it fails when queried{effect}")


def _dependent_views(revert: Revert, table: str, column: str | None) -> list[str]:
    connection = revert.connection
    vendor = connection.vendor
    try:
        if not revert.probe.exists(table, [column] if column else []):
            return []
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if vendor == "postgresql":
                cursor.execute(_POSTGRESQL_VIEWS, [connection.ops.quote_name(table), column, column])
            elif vendor == "mysql":
                cursor.execute(_MYSQL_VIEWS, [f"%`{table}`.`{column}`%" if column else f"%`{table}`%"])
            else:
                cursor.execute(_SQLITE_VIEWS)
            rows = cursor.fetchall()
    except DatabaseError as exc:
        revert.notes.append(f"could not list the views reading {table}: {str(exc).strip().splitlines()[0]}")
        return []
    if vendor != "sqlite":
        return [str(row[0]) for row in rows]
    words = [re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE) for name in (table, column) if name]
    return [str(name) for name, sql in rows if all(word.search(sql or "") for word in words)]
