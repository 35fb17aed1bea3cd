"""Read the migration graph from disk and the recorded state from a database."""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Collection
from typing import Any, ClassVar
from weakref import WeakSet

from django.apps import apps as django_apps
from django.db.migrations.loader import MigrationLoader

from migtool.core.doctor import MigrationFacts
from migtool.core.graph import MigrationKey, MigrationNode, ProjectGraph
from migtool.core.replacement import load_order, stand_ins
from migtool.django_adapter.squash_view import SquashView
from migtool.django_adapter.tables import table_exists
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

    Without replacements, a dependency or ``run_before`` naming a migration
    that is gone from disk but replaced by a squash resolves to that squash
    (``ProjectGraph.stand_ins``), as it does with replacements; Django itself
    refuses to build that view (and so ``migrate app <replaced>``) on such a
    project.  ``placeholder_edges`` then keeps the edges as declared, before
    that resolution, for ``load_graph``.

    ``injected`` holds migrations that are not on disk but join every graph
    built afterwards, as if they were: the stored sources of applied
    migrations whose files are gone (``stored_loader.inject``).

    ``recorded`` gives the rows of ``django_migrations`` the caller has just
    read (``load_recorded``), so a graph already built for them is reused
    without reading the table again.
    """

    _files: ClassVar[tuple[dict[Any, Any], set[str], set[str]] | None] = None
    injected: ClassVar[dict[Any, Any]] = {}
    _graphs: ClassVar[dict[tuple[bool, frozenset[Any]], tuple[Any, Any, dict[Any, Any]]]] = {}
    _consistent: ClassVar[WeakSet[Any]] = WeakSet()  # shared graphs whose applied set was checked
    disk_migrations: dict[Any, Any]
    unmigrated_apps: set[str]
    migrated_apps: set[str]
    placeholder_edges: dict[tuple[str, str], tuple[tuple[str, str], ...]] | None = None
    graph: Any
    replacements: dict[Any, Any]
    applied_migrations: dict[Any, Any]

    def __init__(
        self,
        connection: Any,
        *,
        replace_migrations: bool = True,
        view: SquashView | None = None,
        load: bool = True,
        recorded: Collection[MigrationKey] | None = None,
    ) -> None:
        self.view = view
        self.recorded = None if recorded is None else frozenset(tuple(key) for key in recorded)
        replace = replace_migrations and view is None
        super().__init__(connection, load=load, ignore_no_migrations=True, replace_migrations=replace)

    def load_disk(self) -> None:
        if FilesReadOnceLoader._files is None:
            super().load_disk()
            FilesReadOnceLoader._files = (self.disk_migrations, self.unmigrated_apps, self.migrated_apps)
        disk, unmigrated, migrated = FilesReadOnceLoader._files
        injected = FilesReadOnceLoader.injected
        self.disk_migrations = {**disk, **injected}
        self.unmigrated_apps = set(unmigrated)
        self.migrated_apps = set(migrated) | {app for app, _ in injected}

    @staticmethod
    def disk_files() -> dict[Any, Any]:
        """Return the migrations on disk (nothing injected), read once per process."""
        if FilesReadOnceLoader._files is None:
            FilesReadOnceLoader(None, load=False).load_disk()
        assert FilesReadOnceLoader._files is not None
        return FilesReadOnceLoader._files[0]

    def build_graph(self) -> None:
        """Django's ``build_graph``; without a ``view``, built once per (squash
        replacement, applied set) in a process.

        The graph depends on nothing else (the applied set decides which squashes
        replace their migrations), so targets and rebuilds that read the same
        rows share one read-only graph; only the applied-rows query runs each time.
        A view rewrites the graph it resolves, and placeholders are repointed in
        it, so those graphs are built afresh.
        """
        from django.db.migrations.recorder import MigrationRecorder

        if self.view is not None or FilesReadOnceLoader.injected:
            self._build_fresh()
            if self.view is not None:
                self.view.resolve(self)
            return
        self.load_disk()
        if self.connection is None:
            applied: Any = {}
        elif self.recorded is not None:
            applied = self.recorded
        else:
            applied = MigrationRecorder(self.connection).applied_migrations()
        key = (self.replace_migrations, frozenset(applied))
        self._graph_key = key
        built = FilesReadOnceLoader._graphs.get(key)
        if built is None:
            self._build_fresh()
            if self.placeholder_edges is not None:
                return
            built = (self.graph, self.replacements, dict(self.applied_migrations))
            FilesReadOnceLoader._graphs[key] = built
            while len(FilesReadOnceLoader._graphs) > 8:
                FilesReadOnceLoader._graphs.pop(next(iter(FilesReadOnceLoader._graphs)))
        self.graph, self.replacements, self.applied_migrations = built[0], built[1], dict(built[2])

    def check_consistent_history(self, connection: Any) -> None:
        """Django's check, once per shared graph in a process.  A shared graph was
        built for one applied set (``build_graph``) and the check depends on the
        graph and that set alone, so the targets of a fleet with one history, and
        a rebuild of the same target, are checked once."""
        shared = connection is self.connection and self.graph is FilesReadOnceLoader._shared_graph(self)
        if shared and self.graph in FilesReadOnceLoader._consistent:
            return
        super().check_consistent_history(connection)
        if shared:
            FilesReadOnceLoader._consistent.add(self.graph)

    @staticmethod
    def _shared_graph(loader: FilesReadOnceLoader) -> Any:
        key = getattr(loader, "_graph_key", None)
        built = FilesReadOnceLoader._graphs.get(key) if key is not None else None
        return built[0] if built is not None else None

    def _build_fresh(self) -> None:
        from django.db.migrations.exceptions import NodeNotFoundError

        try:
            super().build_graph()
        except NodeNotFoundError:
            # Raised by validate_consistency, once every node and edge is in place.
            if self.replace_migrations or not self._resolve_placeholders():
                raise
            self.graph.validate_consistency()
            self.graph.ensure_not_cyclic()

    def _resolve_placeholders(self) -> bool:
        """Repoint the edges of each placeholder (a name no file defines) that a
        squash replaces to that squash, as Django's ``remove_replaced_nodes`` does;
        return whether there was one."""
        graph = self.graph
        replaces = {MigrationKey(*k): tuple(MigrationKey(*r) for r in m.replaces) for k, m in self.replacements.items()}
        order = load_order(replaces, [config.label for config in django_apps.get_app_configs()])
        standing = stand_ins(replaces, {MigrationKey(*k) for k in self.disk_migrations}, order)
        placeholders = [key for key in graph.node_map if key not in self.disk_migrations and key in standing]
        if placeholders:
            self.placeholder_edges = {k: tuple(p.key for p in n.parents) for k, n in graph.node_map.items()}
        for key in placeholders:
            graph.remove_replaced_nodes(tuple(standing[MigrationKey(*key)]), [key])
        return bool(placeholders)


def load_facts() -> dict[MigrationKey, MigrationFacts]:
    """Return, for every migration on disk, what its operations say on their own."""
    from migtool.django_adapter.operation_facts import migration_facts

    loader = FilesReadOnceLoader(None, replace_migrations=False)
    return {MigrationKey(*key): migration_facts(m) for key, m in sorted(loader.disk_migrations.items())}


def load_graph() -> ProjectGraph:
    """Return every migration on disk, squashes and replaced migrations alike.

    Uses a loader without connection and with ``replace_migrations=False``: no database is
    needed, and both spellings of every squash stay visible with the
    dependencies they declare (``__first__``/``__latest__`` and ``run_before``
    resolved by Django), names gone from disk included: ``ProjectGraph``
    resolves those to their squash in each view, as Django does.
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
    edges = loader.placeholder_edges or {k: tuple(p.key for p in n.parents) for k, n in loader.graph.node_map.items()}
    before: dict[tuple[str, str], list[MigrationKey]] = {}
    for key, parents in edges.items():
        if key not in loader.disk_migrations:  # a placeholder: only run_before gives it parents
            for parent in parents:
                before.setdefault(parent, []).append(MigrationKey(*key))
    nodes = [
        MigrationNode(
            key=MigrationKey(*key),
            parents=tuple(sorted(MigrationKey(*p) for p in edges[key])),
            replaces=tuple(MigrationKey(*r) for r in migration.replaces),
            checksum=_checksum(migration),
            before=tuple(sorted(before.get(key, ()))),
        )
        for key, migration in loader.disk_migrations.items()
    ]
    return ProjectGraph(nodes, [config.label for config in django_apps.get_app_configs()])


def _checksum(migration: Any) -> str | None:
    """Return the sha256 hex digest of the migration's file (of its stored source, for
    one loaded from the database), or None if it has no file."""
    module = sys.modules.get(type(migration).__module__)
    stored = getattr(module, "__migtool_sha256__", None)
    if stored is not None:
        return str(stored)
    path = getattr(module, "__file__", None)
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
    if not table_exists(connection, recorder.Migration._meta.db_table):
        return Counter()
    return Counter(MigrationKey(app, name) for app, name in recorder.migration_qs.values_list("app", "name"))


def recorded_after(connection: Any, moment: Any) -> frozenset[MigrationKey]:
    """Return the migrations recorded after ``moment`` (read-only)."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    if not table_exists(connection, recorder.Migration._meta.db_table):
        return frozenset()
    rows = recorder.migration_qs.filter(applied__gt=moment).values_list("app", "name")
    return frozenset(MigrationKey(app, name) for app, name in rows)


# One query per backend: every column of every table, for "is the schema back
# where it was" after a failure.  migtool's own tables (journal, stored sources) are left out.
_SCHEMA_SQL = {
    "sqlite": 'SELECT m.name, p.name, p.type, p."notnull" FROM sqlite_master m, pragma_table_info(m.name) p '
    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    # pg_catalog rather than information_schema.columns, which checks privileges on every
    # column of every schema: its cost grew with a fleet's schemas.  OFFSET 0 keeps the
    # planner from hashing all of pg_attribute; each of the schema's tables is read by index.
    "postgresql": "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
    "FROM pg_class c CROSS JOIN LATERAL (SELECT attname, atttypid, atttypmod, attnotnull FROM pg_attribute "
    "WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped OFFSET 0) a "
    "WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
    "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
    "mysql": "SELECT table_name, column_name, column_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema = DATABASE()",
}


def load_schema(connection: Any) -> frozenset[tuple[str, ...]]:
    """Return ``(table, column, type, nullable)`` for every column in the database (read-only)."""
    with connection.cursor() as cursor:
        cursor.execute(_SCHEMA_SQL[connection.vendor])
        rows = cursor.fetchall()
    return frozenset(tuple(str(v) for v in row) for row in rows if not str(row[0]).startswith("migtool_"))
