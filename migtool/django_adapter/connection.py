"""Database connections by alias, with errors a user can act on."""

from __future__ import annotations

import os
from typing import Any

from migtool.errors import ConfigurationError


def get_connection(database: str, *, create: bool = False) -> Any:
    """Return the connected Django connection for ``database``: an alias, or
    ``ALIAS:SCHEMA`` for one PostgreSQL schema of it (a target's label).

    A schema switches the alias's connection to that schema for this thread
    (``schemas.use_schema``, as django-tenants does); a bare alias leaves it as
    it is, so code inside ``schemas.activate(target)`` may name the alias alone.

    A SQLite file that does not exist is created only with ``create`` (as
    ``manage.py migrate`` would); otherwise it is reported, untouched.

    Raises ``ConfigurationError`` for an unknown alias, a missing driver or an
    unreachable server.  Messages name the engine, host and database, never
    the password.
    """
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError, connections

    alias, _, schema = database.partition(":")
    check_alias(alias)
    connection = connections[alias]
    if not create and sqlite_file_missing(alias):
        # Connecting would create an empty file: a read must not change anything.
        raise ConfigurationError(
            f"The SQLite database file of {alias!r} does not exist: {connection.settings_dict.get('NAME')}.",
            hint="Check settings.DATABASES, or run 'python manage.py migrate' to create it.",
            database=alias,
        )
    try:
        connection.ensure_connection()
    except ImproperlyConfigured as exc:
        raise ConfigurationError(
            f"Database {alias!r} cannot be used: {exc}",
            hint="Install the driver, e.g. pip install 'migtool[postgres]' or 'migtool[mysql]'.",
            database=alias,
        ) from None
    except DatabaseError as exc:
        raise ConfigurationError(
            f"Cannot connect to database {alias!r} ({describe(alias)}): {scrub(alias, exc)}",
            hint="Check that the server is running and settings.DATABASES is right.",
            database=alias,
        ) from None
    if schema:
        from migtool.django_adapter.schemas import use_schema

        use_schema(connection, schema)
    return connection


def check_alias(alias: str) -> None:
    """Raise ``ConfigurationError`` naming the known aliases if ``alias`` is not one."""
    from django.db import connections

    if alias not in connections.settings:
        known = ", ".join(sorted(connections.settings)) or "none"
        raise ConfigurationError(
            f"Unknown database alias {alias!r}.",
            hint=f"Use one of the aliases in settings.DATABASES: {known}.",
            database=alias,
        )


def sqlite_file_missing(alias: str) -> bool:
    """Whether ``alias`` (a known alias) is a SQLite database whose file does not
    exist yet: connecting would create it.  Nothing is connected."""
    from django.db import connections

    connection = connections[alias]
    name = str(connection.settings_dict.get("NAME") or "")
    return connection.vendor == "sqlite" and not _is_memory(name) and not os.path.exists(name)


def describe(alias: str) -> str:
    """Return ``vendor host:port/name`` for messages; no credentials."""
    from django.db import connections

    conf = connections.settings[alias]
    engine = conf.get("ENGINE", "").rsplit(".", 1)[-1]
    where = f"{conf.get('HOST') or 'localhost'}:{conf.get('PORT') or 'default'}/" if conf.get("HOST") else ""
    return f"{engine} {where}{conf.get('NAME')}"


def scrub(alias: str, exc: BaseException) -> str:
    """Return the first line of a driver error with the configured password masked."""
    from django.db import connections

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = connections.settings[alias].get("PASSWORD")
    return text.replace(password, "***") if password else text


def _is_memory(name: str) -> bool:
    return name == ":memory:" or name.startswith("file:")
