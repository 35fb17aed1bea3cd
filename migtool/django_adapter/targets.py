"""The one way to reach a fleet target's database: ``target_connection(target)``.

Why it exists: every per-target use case in a fleet run goes through this
function, so a schema target (a PostgreSQL schema, set as django-tenants sets
it) and an alias target look the same to the code above.  Schema targets are
activated by ``migtool.django_adapter.schemas``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from migtool.core.graph import MigrationKey
from migtool.django_adapter.connection import get_connection
from migtool.django_adapter.loader import load_recorded
from migtool.errors import ConfigurationError
from migtool.fleet.targets import Target


@contextmanager
def target_connection(target: Target, *, create: bool = False) -> Iterator[Any]:
    """Yield the connected Django connection of ``target``; for a schema target it
    is the alias's connection with the schema's ``search_path`` set, restored on exit.

    ``create`` lets a missing SQLite file be created, as for ``get_connection``.
    """
    if target.schema is None:
        yield get_connection(target.alias, create=create)
        return
    try:
        schemas = importlib.import_module("migtool.django_adapter.schemas")
    except ModuleNotFoundError:
        raise ConfigurationError(
            f"Schema targets are not supported by this migtool ({target.label}).",
            hint="Name database aliases only (--database ALIAS).",
        ) from None
    with schemas.activate(target) as connection:
        yield connection


def up_to_date(targets: Iterable[Target], expected: frozenset[MigrationKey]) -> set[Target]:
    """Return the targets whose ``django_migrations`` records at least ``expected``:
    they have nothing to migrate and are skipped untouched.

    Read-only, one query per database alias: the alias's own table for an alias
    target, and all its schemas' tables at once for schema targets.  A target
    that cannot be read here is not up to date; running it reports why.
    """
    by_alias: dict[str, list[Target]] = {}
    for target in targets:
        by_alias.setdefault(target.alias, []).append(target)
    fresh: set[Target] = set()
    for alias, members in by_alias.items():
        try:
            connection = get_connection(alias)
        except ConfigurationError:
            continue
        if any(t.schema is None for t in members) and expected <= set(load_recorded(connection)):
            fresh.add(Target(alias))
        schemas = [t.schema for t in members if t.schema is not None]
        if schemas:
            module = importlib.import_module("migtool.django_adapter.schemas")
            fresh.update(Target(alias, s) for s in module.up_to_date(connection, schemas, expected))
    return fresh
