"""Stock Django as the oracle: the state its own ``migrate`` reaches for some code.

A test that checks where migtool left a database compares it with a fresh
database that ``manage.py migrate`` brought to the same code, on the same
backend.  Two databases are "in the same state" when they have the same
columns (table, column, type, nullability) and the same rows in
``django_migrations`` once rows for squashes are set aside: a squash row is
Django's bookkeeping, written when all its replaced migrations are recorded,
and migtool keeps one in effect where a fresh ``migrate`` of older code never
wrote it.  So squash rows are checked on their own: each must stand for
replaced migrations that are all recorded (no stale squash row).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from projects import Database, Project

Key = tuple[str, str]
Apps = dict[str, dict[str, str]]

JOURNAL_PREFIX = "migtool_"


def schema(db: Database) -> frozenset[tuple[str, ...]]:
    """Every column of every table the migrations made: (table, column, type, nullable).

    Left out: migtool's journal, and ``django_migrations``, which Django creates
    even where there is nothing to migrate."""
    columns = set()
    for table in {t for t in db.tables() if not t.startswith(JOURNAL_PREFIX)} - {"django_migrations"}:
        if db.backend == "sqlite":
            rows = [(name, kind, not_null) for _, name, kind, not_null, *_ in db.rows(f'PRAGMA table_info("{table}")')]
        else:
            kind = "data_type" if db.backend == "postgresql" else "column_type"
            where = "current_schema()" if db.backend == "postgresql" else "DATABASE()"
            rows = db.rows(
                f"SELECT column_name, {kind}, is_nullable FROM information_schema.columns "
                f"WHERE table_schema = {where} AND table_name = %s",
                (table,),
            )
        columns.update((table, *(str(v) for v in row)) for row in rows)
    return frozenset(columns)


@dataclass(frozen=True)
class DbState:
    """What a migration run decides about a database: its rows and its columns."""

    rows: frozenset[Key]
    columns: frozenset[tuple[str, ...]]

    def without_squash_rows(self, squashes: Iterable[Key]) -> DbState:
        return DbState(self.rows - frozenset(squashes), self.columns)


def state_of(db: Database) -> DbState:
    return DbState(frozenset(db.applied()), schema(db))


def squashes_of(*codes: Apps) -> dict[Key, list[Key]]:
    """Every squash in these versions of the code, with its ``replaces`` (read from the source)."""
    found: dict[Key, list[Key]] = {}
    for apps in codes:
        for app, migrations in apps.items():
            for name, source in migrations.items():
                for line in source.splitlines():
                    if line.strip().startswith("replaces = "):
                        found[(app, name)] = [tuple(r) for r in ast.literal_eval(line.split("=", 1)[1].strip())]
    return found


def stands_for(squashes: Mapping[Key, list[Key]], key: Key) -> set[Key]:
    """The names ``key`` stands for, through nested squashes, without itself."""
    result: set[Key] = set()
    pending = list(squashes.get(key, ()))
    while pending:
        name = pending.pop()
        if name not in result:
            result.add(name)
            pending.extend(squashes.get(name, ()))
    return result


def django_reaches(make_project: Callable[..., Project], apps: Apps, backend: str) -> DbState:
    """The state stock Django's ``migrate`` gives a fresh database with this code."""
    project = make_project(apps, backend=backend)
    result = project.manage("migrate", "--noinput")
    assert result.code == 0, result
    return state_of(project.db)


def assert_same_state(db: Database, expected: DbState, squashes: Mapping[Key, list[Key]]) -> None:
    """``db`` is in the state ``expected`` describes (see the module docstring)."""
    actual = state_of(db)
    for row in (actual.rows - expected.rows) & set(squashes):  # Django's own migrate may leave such rows
        assert stands_for(squashes, row) - set(squashes) <= actual.rows, f"stale squash row {row}"
    assert actual.without_squash_rows(squashes) == expected.without_squash_rows(squashes)
