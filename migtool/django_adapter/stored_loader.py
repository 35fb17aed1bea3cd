"""Load stored migration sources as real ``Migration`` objects and add them to the graph.

The one hook that works in Django (downgraded-code-and-git.md §3.2): add
nodes to the loader's ``disk_migrations`` before ``build_graph`` builds the
graph.  Then the stored migrations get real edges, squash handling and
``run_before``, and every plan, pre-flight check and execution treats them
exactly as the files they were (django-rewind's executor-only hook never
reaches them: ghosts are not in the graph, so nothing plans them).

Each stored source is compiled under a private module name
(``migtool_stored.<app>.<name>``) with a pseudo file name
(``/<migtool stored source, sha256 …>/<app>/migrations/<name>.py``) whose
lines are registered in ``linecache``, so a traceback from a failing reverse
``RunPython`` names the stored source and shows its lines.  Its
``__package__`` is the app's migrations package on disk, so relative imports
resolve against today's code, as any other import does.

Loading a source runs its module-level code (imports, the ``Migration`` class
body).  Only commands that plan against a database load them; only a
rollback the user asked for runs their operations.
"""

from __future__ import annotations

import linecache
import sys
import types
from dataclasses import dataclass, field
from typing import Any

from migtool.core.graph import MigrationKey
from migtool.core.planner import Refusal
from migtool.core.stored import StoredMigration, classify, ghosts
from migtool.django_adapter.stored_sources import SourceFile, SourceStore

PACKAGE = "migtool_stored"


@dataclass(frozen=True)
class Injection:
    """What the store added to the graph for one database.

    ``injected`` are the stored migrations now in the graph (``fingerprint``:
    each with the sha256 of the source loaded); ``refusals`` say why other
    stored migrations are not; ``missing`` are applied migrations neither on
    disk nor stored.  ``variants`` maps every stored key to the sha256 of each
    source stored for it (for drift and coverage).
    """

    injected: frozenset[MigrationKey] = frozenset()
    fingerprint: frozenset[tuple[MigrationKey, str | None]] = frozenset()
    refusals: tuple[Refusal, ...] = ()
    missing: frozenset[MigrationKey] = frozenset()
    variants: dict[MigrationKey, tuple[str, ...]] = field(default_factory=dict)


def inject(connection: Any) -> Injection:
    """Load the stored sources of the applied migrations that are not on disk, and make
    every migtool loader built afterwards in this process include them.

    Read-only: reads ``django_migrations`` and ``migtool_source``; creates nothing.
    Graphs built before it do not include what it injects.
    """
    from migtool.django_adapter.loader import FilesReadOnceLoader, load_recorded
    from migtool.django_adapter.restore import first_line

    disk_files = FilesReadOnceLoader.disk_files()
    disk = {MigrationKey(*k): tuple(MigrationKey(*r) for r in m.replaces) for k, m in disk_files.items()}
    recorded = frozenset(load_recorded(connection))
    store = SourceStore(connection)
    variants = store.variants()
    loaded: dict[MigrationKey, Any] = {}
    broken: dict[MigrationKey, str] = {}
    for key, source in sorted(store.latest(ghosts(disk, recorded) & variants.keys()).items()):
        already = FilesReadOnceLoader.injected.get(tuple(key))
        if already is not None and _sha256(already) == source.sha256:
            loaded[key] = already  # loaded for an earlier database of this process
            continue
        try:
            loaded[key] = load_source(source)
        except Exception as exc:  # any error a module can raise while it is executed
            broken[key] = first_line(exc)
    on_disk = FilesReadOnceLoader(None, load=False)
    on_disk.load_disk()
    declared = {k: _declared(k, m) for k, m in loaded.items()}
    result = classify(disk, on_disk.unmigrated_apps, recorded, declared, broken)
    FilesReadOnceLoader.injected = {tuple(k): loaded[k] for k in result.inject}
    fingerprint = frozenset((k, _sha256(loaded[k])) for k in result.inject)
    return Injection(result.inject, fingerprint, result.refusals, result.missing, variants)


def load_source(stored: SourceFile) -> Any:
    """Execute a stored source as a private module and return its ``Migration`` instance."""
    from django.db.migrations.loader import MigrationLoader

    app, name = stored.key
    module_name = f"{PACKAGE}.{app}.{name}"
    # Absolute and ending in .py, but in no directory that exists: tracebacks name it,
    # and Rich (which skips "<...>" names) shows its lines from linecache.
    filename = f"/<migtool stored source, sha256 {stored.sha256[:12]}>/{app}/migrations/{name}.py"
    text = stored.source.decode("utf-8", errors="replace")
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    module.__migtool_sha256__ = stored.sha256  # type: ignore[attr-defined]
    try:
        module.__package__ = MigrationLoader.migrations_module(app)[0]
    except LookupError:  # an app the older code does not install: no package to be relative to
        module.__package__ = None
    sys.modules[module_name] = module
    try:
        exec(compile(stored.source, filename, "exec", dont_inherit=True), module.__dict__)
        migration_class = getattr(module, "Migration", None)
        if migration_class is None:
            raise ImportError(f"{stored.key}'s stored source defines no Migration class")
        return migration_class(name, app)
    except BaseException:
        del sys.modules[module_name]
        raise


def _sha256(migration: Any) -> str | None:
    return getattr(sys.modules.get(type(migration).__module__), "__migtool_sha256__", None)


def _declared(key: MigrationKey, migration: Any) -> StoredMigration:
    return StoredMigration(
        key,
        dependencies=tuple(MigrationKey(*d) for d in migration.dependencies),
        replaces=tuple(MigrationKey(*r) for r in migration.replaces),
        run_before=tuple(MigrationKey(*r) for r in migration.run_before),
    )


def render_refusals(loader: Any, injected: frozenset[MigrationKey]) -> list[Refusal]:
    """Render the applied history of ``loader``, stored migrations included, as a rollback will:
    a stored migration whose models do not render with today's code (a field
    class, base or manager it needs is gone or changed) is refused by name.

    The state is rendered once before the first stored migration, and each
    later migration re-renders only the models it changes, so an error is
    raised by the migration that causes it.  Re-rendering does not raise for
    a relation to a model the state lacks (a ``ForeignKey`` to a model of an
    app without migrations that today's code no longer has): it stays a
    pending lookup, so after a stored migration leaves one, the state is
    rendered afresh, which raises Django's own error for it.
    """
    from django.db.migrations.state import ProjectState, StateApps

    from migtool.django_adapter.plans import full_plan
    from migtool.django_adapter.restore import first_line

    state = ProjectState(real_apps=loader.unmigrated_apps)
    for key in full_plan(loader.graph):
        if key not in loader.applied_migrations:
            continue
        migration = loader.graph.nodes[key]
        stored = MigrationKey(*key) in injected
        try:
            if stored and "apps" not in state.__dict__:
                _ = state.apps
            migration.mutate_state(state, preserve=False)
            if stored and any(state.apps._pending_operations.values()):
                StateApps(state.real_apps, state.models)
        except Exception as exc:  # whatever a field, base or manager raises while rendering
            what = "its stored source is" if stored else "it is"
            return [
                Refusal(
                    "stored-source-broken",
                    f"{key[0]}.{key[1]}: the project state does not render with today's code once {what} "
                    f"applied: {first_line(exc).rstrip('.')}.",
                    (MigrationKey(*key),),
                )
            ]
    return []
