"""The one way to reach a fleet target's database: ``target_connection(target)``.

Why it exists: every per-target use case in a fleet run goes through this
function, so a schema target (a PostgreSQL schema, set as django-tenants sets
it) and an alias target look the same to the code above.  Schema targets are
activated by ``migtool.django_adapter.schemas``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from migtool.django_adapter.connection import get_connection
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
