"""Whether one table (or one of its columns) exists where migtool reads and writes.

Why this exists: a run asks several times whether ``django_migrations``, the
journal's tables and the source store are there.  Django answers through
``introspection.table_names()``, a listing of every table the search_path
makes visible.  For a schema target that listing is filtered to the schema:
django-tenants runs four statements for it (``SHOW search_path``, ``SET``,
the listing, ``SET`` back), and the listing tests the visibility of every
relation of every schema, so it gets slower as the fleet grows; each schema
of a 51-schema fleet paid it 14 times, a fifth of its migrate-safe.

For a schema target the question is answered by one lookup in ``pg_class``
by name and schema (its index), with the relation kinds Django's listing
includes.  Any other connection keeps Django's introspection, so
single-database behaviour is unchanged.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from migtool.django_adapter.schemas import active_schema

# The relation kinds Django's PostgreSQL get_table_list lists: tables, views,
# materialized views, foreign and partitioned tables.
_LISTED_KINDS = ["r", "v", "m", "f", "p"]


def table_exists(connection: Any, table: str) -> bool:
    """Whether ``table`` exists in ``connection``'s database (its schema, for a schema target)."""
    return tables_exist(connection, [table])


def tables_exist(connection: Any, tables: Collection[str]) -> bool:
    """Whether every one of ``tables`` exists, asked in one listing or one lookup."""
    wanted = set(tables)
    schema = _schema(connection)
    with connection.cursor() as cursor:
        if schema is None:
            return wanted <= set(connection.introspection.table_names(cursor))
        cursor.execute(
            "SELECT COUNT(DISTINCT c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = ANY(%s) AND n.nspname = %s AND c.relkind = ANY(%s)",
            [sorted(wanted), schema, _LISTED_KINDS],
        )
        return cursor.fetchone()[0] == len(wanted)


def column_exists(connection: Any, table: str, column: str) -> bool:
    """Whether existing ``table`` has ``column`` (in the target's schema, for a schema target)."""
    schema = _schema(connection)
    with connection.cursor() as cursor:
        if schema is None:
            return any(c.name == column for c in connection.introspection.get_table_description(cursor, table))
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND n.nspname = %s AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped)",
            [table, schema, column],
        )
        return bool(cursor.fetchone()[0])


def _schema(connection: Any) -> str | None:
    return active_schema(connection) if connection.vendor == "postgresql" else None
