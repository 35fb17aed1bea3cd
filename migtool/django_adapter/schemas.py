"""PostgreSQL schema targets: one tenant schema inside a database, used as if it were a database.

Why this exists: schema-per-tenant projects (django-tenants, django-tenant-schemas)
keep one copy of the tenant apps' tables, one ``django_migrations`` and so one
migration state *per schema*.  A schema target is migrated through migtool's
ordinary single-database code path; the only difference is the connection's
``search_path``, set here exactly as django-tenants sets it (fleets.md §1.3):

* ``"<schema>", "public"`` (``public`` is ``PUBLIC_SCHEMA_NAME``; the public
  schema alone when the target is public), so tenant tables shadow shared ones
  and foreign keys to shared tables still resolve;
* with django-tenants' backend through its own ``connection.set_schema()``, so
  its router (``SHARED_APPS`` / ``TENANT_APPS``), its schema-filtered
  introspection and ``PG_EXTRA_SEARCH_PATHS`` behave as under ``migrate_schemas``
  (its ``SET`` before every cursor is skipped where it is a no-op:
  ``tenant_search_path``);
* with Django's plain PostgreSQL backend by ``SET search_path`` on the session,
  plus an introspection that lists only the schema's own tables: otherwise a
  schema without ``django_migrations`` or a journal would see (and write to)
  public's through the search_path.

The setting survives what migtool's executor does to a connection after a
failure (close, or a fresh wrapper for the alias): it is re-applied whenever a
connection of the alias connects in the same thread.  So the schema's own
``django_migrations``, journal tables and lock (``lock.py`` keys the advisory
lock by schema) are used throughout.

Also here: naming a fleet of schemas (a glob, a query, django-tenants' tenant
model) and ``up_to_date``, which finds in one read the schemas that already
record every migration, so a fleet run skips them without writing.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from migtool.django_adapter import tenant_search_path
from migtool.errors import ConfigurationError, InputError
from migtool.fleet.targets import Target

# django-tenants' own rule (postgresql_backend/base.py, 4.0.1): names that can be quoted safely.
_VALID_NAME = re.compile(r'^(?!pg_)[^"\'\\;\x00\r\n]{1,63}\Z', re.IGNORECASE)
_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")
# A UNION ALL over this many schemas' django_migrations per statement keeps statements small.
_UNION_CHUNK = 500


_local = threading.local()


def _active() -> dict[str, str]:
    """This thread's active schema per alias (Django's connections are per thread too)."""
    if not hasattr(_local, "schemas"):
        _local.schemas = {}
    return _local.schemas  # type: ignore[no-any-return]


def active_schema(connection: Any) -> str | None:
    """The schema target ``connection`` is switched to in this thread, or None."""
    return _active().get(connection.alias)


def lock_scope(connection: Any, scope: str | None) -> str | None:
    """The scope of ``connection``'s migtool lock: ``scope``, else the schema it is
    switched to; the public schema is the database itself (None), so a plain run
    and a fleet's public target exclude each other."""
    if scope is None:
        scope = active_schema(connection)
    return None if scope == public_schema_name() and connection.vendor == "postgresql" else scope


def public_schema_name() -> str:
    from django.conf import settings

    return str(getattr(settings, "PUBLIC_SCHEMA_NAME", "public"))


def is_tenants_connection(connection: Any) -> bool:
    """Whether ``connection`` uses django-tenants' backend (it has ``set_schema``)."""
    return callable(getattr(connection, "set_schema", None))


def check_schema_name(schema: str) -> None:
    if not _VALID_NAME.match(schema):
        raise InputError(
            f"{schema!r} is not a schema name migtool can use.",
            hint="Schema names are 1 to 63 characters, do not start with 'pg_' and contain no quotes, "
            "backslashes, semicolons or line breaks.",
        )


def use_schema(connection: Any, schema: str | None) -> Any:
    """Switch ``connection`` (and every later connection of its alias in this thread)
    to ``schema``; None goes back to the alias's own setting.  Returns the connection.

    Raises ``ConfigurationError`` when the database is not PostgreSQL or the schema
    does not exist (nothing is created: a missing schema is reported, untouched).
    """
    active = _active()
    if schema is None:
        if active.pop(connection.alias, None) is not None:
            _reset_search_path(connection)
        return connection
    check_schema_name(schema)
    if connection.vendor != "postgresql":
        raise ConfigurationError(
            f"Database {connection.alias!r} is {connection.vendor}; schema targets need PostgreSQL.",
            hint=f"Drop ':{schema}' from the target, or name a PostgreSQL alias.",
        )
    if active.get(connection.alias) != schema:
        if schema not in existing_schemas(connection, [schema]):
            raise ConfigurationError(
                f"Schema {schema!r} does not exist in database {connection.alias!r}.",
                hint="List the schemas with '\\dn' in psql; create the tenant first (a tenant row without "
                "its schema is not provisioned).",
                database=connection.alias,
            )
        active[connection.alias] = schema
        _apply(connection, schema)
    return connection


@contextmanager
def activate(target: Target) -> Iterator[Any]:
    """Yield ``target``'s connection with its schema's ``search_path``; restore on exit.

    A target without a schema yields the alias's connection as it is.  Within
    the block every migtool function that gets the alias's connection (through
    ``get_connection``) works on the schema's own tables.
    """
    from django.db import connections

    from migtool.django_adapter.connection import get_connection

    connection = get_connection(target.alias)
    previous = active_schema(connection)
    use_schema(connection, target.schema)
    try:
        yield connection
    finally:
        current = connections[target.alias]  # a failed run may have replaced the wrapper
        if previous is None:
            use_schema(current, None)
        else:
            _active()[target.alias] = previous
            _apply(current, previous)


def _apply(connection: Any, schema: str) -> None:
    if is_tenants_connection(connection):
        _set_tenant_schema(connection, schema)
        return
    if not isinstance(connection.introspection, _SchemaIntrospection):
        connection.introspection = _schema_introspection(connection)
    if connection.connection is not None:
        _set_search_path(connection, schema)


def _set_tenant_schema(connection: Any, schema: str) -> None:
    # What django-tenants' migration executor and schema_context do: the backend
    # issues SET search_path for new cursors and filters introspection by schema.
    connection.set_schema(schema)
    tenant_search_path.set_only_when_needed(connection)


def _reset_search_path(connection: Any) -> None:
    if is_tenants_connection(connection):
        connection.set_schema_to_public()
        tenant_search_path.set_on_every_cursor(connection)
        return
    if isinstance(connection.introspection, _SchemaIntrospection):
        connection.introspection = connection.introspection_class(connection)
    if connection.connection is not None:
        with connection.cursor() as cursor:
            cursor.execute("RESET search_path")


def _search_path(connection: Any, schema: str) -> str:
    public = public_schema_name()
    names = [public] if schema == public else [schema, public]
    return ", ".join(connection.ops.quote_name(name) for name in names)


def _set_search_path(connection: Any, schema: str) -> None:
    # Outside any transaction (migtool switches before it opens one), so a later
    # rollback cannot revert it; reconnections re-apply it (_reapply).
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path = {_search_path(connection, schema)}")


def _reapply(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created``: a reconnected or replaced wrapper gets the schema again."""
    schema = _active().get(connection.alias)
    if schema is None:
        return
    if is_tenants_connection(connection):
        _set_tenant_schema(connection, schema)
    else:
        if not isinstance(connection.introspection, _SchemaIntrospection):
            connection.introspection = _schema_introspection(connection)
        _set_search_path(connection, schema)


class _SchemaIntrospection:
    """Marker base of the plain backend's schema-filtered introspection."""


def _schema_introspection(connection: Any) -> Any:
    return _introspection_class(connection.introspection_class)(connection)


@functools.cache
def _introspection_class(base: type) -> type:
    """The backend's introspection, listing only the tables of the current schema,
    as django-tenants' ``DatabaseSchemaIntrospection`` does: Django's lists every
    table visible through the search_path, public's included."""

    class SchemaIntrospection(_SchemaIntrospection, base):  # type: ignore[valid-type,misc]
        def get_table_list(self, cursor: Any) -> list[Any]:
            return [t for t in super().get_table_list(cursor) if t.name in self._own_tables(cursor)]

        def _own_tables(self, cursor: Any) -> set[str]:
            cursor.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema()"
            )
            return {row[0] for row in cursor.fetchall()}

    return SchemaIntrospection


# --------------------------------------------------------------------------- naming a fleet


def existing_schemas(connection: Any, names: Iterable[str] | None = None) -> list[str]:
    """The database's user schemas (all, or those of ``names`` that exist), sorted."""
    sql = "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' AND nspname <> ALL(%s)"
    params: list[Any] = [list(_SYSTEM_SCHEMAS)]
    if names is not None:
        sql += " AND nspname = ANY(%s)"
        params.append(list(names))
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY nspname", params)
        return [row[0] for row in cursor.fetchall()]


def matching_schemas(connection: Any, pattern: str) -> list[str]:
    """``--schemas 'tenant_*'``: the existing schemas matching a shell glob, sorted
    (case-sensitive, as PostgreSQL names are)."""
    return [name for name in existing_schemas(connection) if fnmatch.fnmatchcase(name, pattern)]


def schemas_from_query(connection: Any, sql: str) -> list[str]:
    """``--schemas-from-query "SELECT schema_name FROM customers_client"``: the first
    column of the query's rows, in its order, duplicates dropped.

    The query runs in a read-only transaction that is rolled back, so it cannot
    change anything.  Raises ``InputError`` when it fails or returns no name.
    """
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(sql)
            rows = cursor.fetchall()
            transaction.set_rollback(True, using=connection.alias)
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"The --schemas-from-query query failed: {first}",
            hint="Give a read-only SELECT whose first column is the schema name.",
        ) from None
    names = list(dict.fromkeys(str(row[0]) for row in rows if row and row[0] is not None))
    for name in names:
        check_schema_name(name)
    return names


def uses_django_tenants() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "TENANT_MODEL", None)) and "django_tenants" in settings.INSTALLED_APPS


def tenant_schemas() -> tuple[str, list[str]]:
    """``--tenants``: django-tenants' alias and schemas, ``public`` first, then the
    tenants in ``TENANT_MIGRATION_ORDER`` (else primary-key order), as
    ``migrate_schemas`` runs them.  Raises ``ConfigurationError`` if the project
    does not use django-tenants."""
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS

    from migtool.django_adapter.connection import get_connection

    if not uses_django_tenants():
        raise ConfigurationError(
            "--tenants needs a django-tenants project (settings.TENANT_MODEL and 'django_tenants' in INSTALLED_APPS).",
            hint="Name the schemas with --schemas 'GLOB' or --schemas-from-query 'SELECT ...' instead.",
        )
    from django_tenants.utils import get_tenant_model

    alias = str(getattr(settings, "TENANT_DB_ALIAS", DEFAULT_DB_ALIAS))
    public = public_schema_name()
    get_connection(alias)
    order = getattr(settings, "TENANT_MIGRATION_ORDER", None) or ["pk"]
    rows = get_tenant_model().objects.using(alias).exclude(schema_name=public).order_by(*order)
    return alias, [public, *dict.fromkeys(rows.values_list("schema_name", flat=True))]


# --------------------------------------------------------------------------- skipping what is done


def up_to_date(connection: Any, schemas: Collection[str], expected: Collection[tuple[str, str]]) -> set[str]:
    """Return the schemas whose ``django_migrations`` records every row of ``expected``
    (``planner.fully_migrated_rows``): they have nothing to migrate.

    One query finds which schemas have the table, one more (per 500 schemas)
    counts each schema's distinct rows among ``expected``; no table is created
    and nothing is written.  A schema missing a row goes through the ordinary
    path, which plans what it lacks.
    """
    names = list(dict.fromkeys(schemas))
    for name in names:
        check_schema_name(name)
    wanted = sorted(set(expected))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)",
            [names],
        )
        with_table = sorted(row[0] for row in cursor.fetchall())
        done: set[str] = set()
        for start in range(0, len(with_table), _UNION_CHUNK):
            chunk = with_table[start : start + _UNION_CHUNK]
            parts = [
                "SELECT %s, count(DISTINCT (m.app, m.name)) "
                f"FROM {connection.ops.quote_name(name)}.django_migrations m "
                "JOIN expected e ON e.app = m.app AND e.name = m.name"
                for name in chunk
            ]
            cursor.execute(
                "WITH expected(app, name) AS (SELECT * FROM unnest(%s::text[], %s::text[])) "
                + " UNION ALL ".join(parts),
                [[app for app, _ in wanted], [name for _, name in wanted], *chunk],
            )
            done |= {name for name, count in cursor.fetchall() if count == len(wanted)}
    return done


def _connect_signal() -> None:
    from django.db.backends.signals import connection_created

    connection_created.connect(_reapply, dispatch_uid="migtool.schemas.reapply")


_connect_signal()
