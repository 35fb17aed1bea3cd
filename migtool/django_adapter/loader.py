"""Read the migration graph from disk and the recorded state from a database."""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from typing import Any, ClassVar

from django.db.migrations.loader import MigrationLoader

from migtool.core.doctor import MigrationFacts
from migtool.core.graph import MigrationKey, MigrationNode, ProjectGraph
from migtool.django_adapter.squash_view import SquashView
from migtool.errors import ConfigurationError


class FilesReadOnceLoader(MigrationLoader):
    """Django's ``MigrationLoader``, reading the migration files once per process.

    migtool builds several graphs over the same files in one command: every
    migration with both spellings of each squash (``load_graph``), then
    Django's executor view with squashes replaced, again after a run to verify
    it.  Each build starts afresh from the recorded state (what goes stale
    after a failure, django-migrations.md §1.3), but listing, importing and
    instantiating 2,000 migrations again was half of each later build.

    Apps whose migrations module is missing count as unmigrated in every view
    (``ignore_no_migrations``), so the executor agrees with the graph migtool
    planned on.  With a ``view`` the squashes are resolved as that view
    resolved them, not from what is recorded now (``squash_view``).
    """

    _files: ClassVar[tuple[dict[Any, Any], set[str], set[str]] | None] = None
    disk_migrations: dict[Any, Any]
    unmigrated_apps: set[str]
    migrated_apps: set[str]

    def __init__(self, connection: Any, *, replace_migrations: bool = True, view: SquashView | None = None) -> None:
        self.view = view
        replace = replace_migrations and view is None
        super().__init__(connection, ignore_no_migrations=True, replace_migrations=replace)

    def build_graph(self) -> None:
        super().build_graph()
        if self.view is not None:
            self.view.resolve(self)

    def load_disk(self) -> None:
        if FilesReadOnceLoader._files is None:
            super().load_disk()
            FilesReadOnceLoader._files = (self.disk_migrations, self.unmigrated_apps, self.migrated_apps)
        disk, unmigrated, migrated = FilesReadOnceLoader._files
        self.disk_migrations, self.unmigrated_apps, self.migrated_apps = dict(disk), set(unmigrated), set(migrated)


def load_facts() -> dict[MigrationKey, MigrationFacts]:
    """Return, for every migration on disk, what its operations say on their own."""
    from migtool.django_adapter.preflight import migration_facts

    loader = FilesReadOnceLoader(None, replace_migrations=False)
    return {MigrationKey(*key): migration_facts(m) for key, m in sorted(loader.disk_migrations.items())}


def load_graph() -> ProjectGraph:
    """Return every migration on disk, squashes and replaced migrations alike.

    Uses a loader without connection and with ``replace_migrations=False``: no database is
    needed, and both spellings of every squash stay visible with the
    dependencies they declare (``__first__``/``__latest__`` and ``run_before``
    resolved by Django).
    """
    from django.db.migrations.exceptions import BadMigrationError, NodeNotFoundError

    try:
        loader = FilesReadOnceLoader(None, replace_migrations=False)
    except (NodeNotFoundError, BadMigrationError, ImportError, SyntaxError, ValueError) as exc:
        # SyntaxError: a migration file that does not compile (import_module raises it as is).
        # ValueError: Django's CircularDependencyError, raised by ensure_not_cyclic.
        raise ConfigurationError(
            f"The project's migrations cannot be loaded: {exc}",
            hint="Fix the migration files; 'python manage.py showmigrations' shows the same problem.",
        ) from None
    nodes = []
    for key, migration in loader.disk_migrations.items():
        parents = loader.graph.node_map[key].parents
        nodes.append(
            MigrationNode(
                key=MigrationKey(*key),
                parents=tuple(sorted(MigrationKey(*p.key) for p in parents)),
                replaces=tuple(MigrationKey(*r) for r in migration.replaces),
                checksum=_checksum(migration),
            )
        )
    return ProjectGraph(nodes)


def _checksum(migration: Any) -> str | None:
    """Return the sha256 hex digest of the migration's file, or None if it has no file."""
    path = getattr(sys.modules.get(type(migration).__module__), "__file__", None)
    if path is None:
        return None
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def load_recorded(connection: Any) -> Counter[MigrationKey]:
    """Return the rows of ``django_migrations`` with how often each key is recorded.

    Read-only: a database without the table has recorded nothing, and the
    table is not created.  Duplicates are kept (Django collapses them), so
    they can be reported.
    """
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return Counter()
    return Counter(MigrationKey(app, name) for app, name in recorder.migration_qs.values_list("app", "name"))


def recorded_after(connection: Any, moment: Any) -> frozenset[MigrationKey]:
    """Return the migrations recorded after ``moment`` (read-only)."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return frozenset()
    rows = recorder.migration_qs.filter(applied__gt=moment).values_list("app", "name")
    return frozenset(MigrationKey(app, name) for app, name in rows)


# One query per backend: every column of every table, for "is the schema back
# where it was" after a failure.  migtool's own journal tables are left out.
_SCHEMA_SQL = {
    "sqlite": 'SELECT m.name, p.name, p.type, p."notnull" FROM sqlite_master m, pragma_table_info(m.name) p '
    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    "postgresql": "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema = current_schema()",
    "mysql": "SELECT table_name, column_name, column_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema = DATABASE()",
}


def load_schema(connection: Any) -> frozenset[tuple[str, ...]]:
    """Return ``(table, column, type, nullable)`` for every column in the database (read-only)."""
    with connection.cursor() as cursor:
        cursor.execute(_SCHEMA_SQL[connection.vendor])
        rows = cursor.fetchall()
    return frozenset(tuple(str(v) for v in row) for row in rows if not str(row[0]).startswith("migtool_run"))
