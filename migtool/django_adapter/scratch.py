"""A scratch database of the same engine as an alias, for rehearsals that must not touch it.

``verify`` runs real migrations and rollbacks, so it needs a real database of
the same engine and settings, and must never write to the alias's own.  It
is made the way Django's test runner makes its test database: on PostgreSQL
and MySQL/MariaDB ``TEST['NAME']`` or ``test_<NAME>`` through the backend's
own ``creation`` (an existing one is replaced, as ``manage.py test
--noinput`` does); on SQLite a temporary file (the test runner's in-memory
default would vanish with the connection).  While the block runs, the
alias's settings point at the scratch database, so every connection migtool
opens for the alias, including fresh ones after a failure, goes there.
Afterwards the settings are put back and the scratch database is dropped,
unless ``keep``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migtool.errors import ConfigurationError


@dataclass(frozen=True)
class Scratch:
    """Where the rehearsal runs: ``name`` is the database name or the SQLite file."""

    alias: str
    vendor: str
    name: str
    kept: bool


@contextmanager
def scratch_database(alias: str, *, keep: bool = False) -> Iterator[Scratch]:
    """Point ``alias`` at a new empty database of its engine for the block; drop it after."""
    from django.db import DatabaseError, connections

    from migtool.django_adapter.connection import check_alias, describe, scrub

    check_alias(alias)
    connection = connections[alias]
    settings_dict = connection.settings_dict
    real_name = settings_dict["NAME"]
    temporary: Path | None = None
    connection.close()
    if connection.vendor == "sqlite":
        temporary = Path(tempfile.mkdtemp(prefix="migtool-verify-"))
        name = str(temporary / "scratch.sqlite3")
    else:
        name = connection.creation._get_test_db_name()
        if name == real_name:
            raise ConfigurationError(
                f"The scratch database of {alias!r} would be its real database {real_name!r}.",
                hint="Give settings.DATABASES[alias]['TEST']['NAME'] a name of its own.",
                database=alias,
            )
        try:
            connection.creation._create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        except DatabaseError as exc:
            raise ConfigurationError(
                f"Cannot create the scratch database {name!r} for {alias!r} ({describe(alias)}): {scrub(alias, exc)}",
                hint="The database user needs the right to create databases, as for 'manage.py test'.",
                database=alias,
            ) from None
        except SystemExit:  # Django's creation exits when it cannot replace an existing test database
            raise ConfigurationError(
                f"Cannot replace the existing scratch database {name!r} for {alias!r}.",
                hint="Drop it by hand, or check that no other session uses it.",
                database=alias,
            ) from None
    settings_dict["NAME"] = name
    try:
        yield Scratch(alias, connection.vendor, name, keep)
    finally:
        _close(alias)
        settings_dict["NAME"] = real_name
        if not keep:
            _drop(connections[alias], name, temporary)


def _close(alias: str) -> None:
    """Close every wrapper of the alias (the executor may have replaced a broken one)."""
    from django.db import connections

    connections[alias].close()


def _drop(connection: Any, name: str, temporary: Path | None) -> None:
    if temporary is not None:
        shutil.rmtree(temporary, ignore_errors=True)
    else:
        connection.creation._destroy_test_db(name, verbosity=0)
