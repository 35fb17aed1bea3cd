"""Django's ``MigrationExecutor`` and migration objects for a plan migtool made.

migtool plans over its own graph (``migtool.core``); running a plan, checking
it beforehand and rendering the SQL it would run all need Django's view of
the same migrations: an executor over migtool's loader, the migration objects
for the planned keys (refused if Django disagrees about what is applied), and
for a backwards plan the project states each migration is reverted from.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from weakref import WeakKeyDictionary

from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from migtool.core.graph import DependencyGraph, MigrationKey
from migtool.django_adapter.fast_path import PathCounts, swappable_cache_kept, unapply_steps
from migtool.django_adapter.loader import FilesReadOnceLoader
from migtool.django_adapter.squash_view import SquashView
from migtool.django_adapter.states import Trajectory
from migtool.django_adapter.tables import table_exists
from migtool.errors import PlanRefusedError


class _Recorder(MigrationRecorder):
    """Django's ``MigrationRecorder``, asking whether its table exists with one cheap
    query (``tables.table_exists``) and remembering a yes, as Django 5.1+ does:
    a batch's ``ensure_schema`` and every ``record_applied`` ask again."""

    def has_table(self) -> bool:
        if not self.__dict__.get("_table_seen"):
            self._table_seen = table_exists(self.connection, self.Migration._meta.db_table)
        return bool(self._table_seen)


class _Executor(MigrationExecutor):
    """Django's ``MigrationExecutor`` over migtool's loader.

    ``MigrationExecutor.__init__`` (the same four lines in Django 4.2 to 6.1)
    would build its own ``MigrationLoader`` and read every migration file again.
    """

    trajectory: Trajectory | None = None  # set for a forward batch whose states are shared (``states``)

    def __init__(self, connection: Any, progress: Callable[..., None] | None, loader: FilesReadOnceLoader) -> None:
        self.connection = connection
        self.loader = loader
        self.recorder = _Recorder(connection)
        self.progress_callback = progress

    def migration_plan(self, targets: Any, clean_start: bool = False) -> Any:
        """Django's; the full plan (every leaf, from a clean start), which ``migrate``
        computes on every call, depends on the graph alone and is computed once per
        graph (graphs are shared between executors and never changed)."""
        graph = self.loader.graph
        if not clean_start or list(targets) != graph.leaf_nodes():
            return super().migration_plan(targets, clean_start)
        return list(self._full_plan())

    def _full_plan(self) -> list[tuple[Any, bool]]:
        graph = self.loader.graph
        if graph not in _full_plans:
            _full_plans[graph] = [(graph.nodes[key], False) for key in full_plan(graph)]
        return _full_plans[graph]

    def plan_positions(self) -> dict[MigrationKey, int]:
        """Each migration's place in the full plan: the order Django applies any forward plan in."""
        graph = self.loader.graph
        if graph not in _plan_positions:
            plan = self._full_plan()
            _plan_positions[graph] = {MigrationKey(m.app_label, m.name): i for i, (m, _) in enumerate(plan)}
        return _plan_positions[graph]

    def apply_migration(self, state: Any, migration: Any, fake: bool = False, fake_initial: bool = False) -> Any:
        """Django's, on the trajectory's stand-in of ``migration`` when there is one:
        the same schema editor, recording and progress, without computing states."""
        stand_in = self.trajectory.stand_in(migration) if self.trajectory is not None else None
        if stand_in is None:
            return super().apply_migration(state, migration, fake, fake_initial)
        # The pinned operations read no state: an empty one makes Migration.apply's clones free.
        super().apply_migration(ProjectState(), stand_in, fake, fake_initial)
        return self.trajectory.after(migration)  # type: ignore[union-attr]

    def check_replacements(self) -> None:
        """Django's, which records squashes whose replaced migrations are all applied;
        without squashes it would only read ``django_migrations`` again."""
        if self.loader.replacements:
            super().check_replacements()


def build_executor(
    connection: Any,
    use_originals: bool,
    progress: Callable[..., None] | None = None,
    *,
    view: SquashView | None = None,
    recorded: Collection[MigrationKey] | None = None,
) -> Any:
    """Return a fresh executor; after any failure Django's caches are stale (§1.3).

    With ``use_originals`` squashes are not replaced, as Django's own
    ``migration_plan`` does to target a replaced migration.  With ``view``
    they are replaced as in that view (``SquashView.of`` an earlier executor's
    loader), whatever is recorded now.  ``recorded`` are the rows of
    ``django_migrations`` the caller has just read, so they are not read again.
    """
    loader = FilesReadOnceLoader(connection, replace_migrations=not use_originals, view=view, recorded=recorded)
    return _Executor(connection, progress, loader)


def plan_migrations(executor: Any, steps: Sequence[MigrationKey], *, applied: bool = True) -> list[Any]:
    """Return Django's migration objects for ``steps``; refuse if Django disagrees.

    Steps to unapply must be applied in Django's own view, or
    ``unapply_migration`` would run its DDL and then fail (§2.4 point 3);
    steps to apply must not be.
    """
    recorded = executor.loader.applied_migrations
    graph = executor.loader.graph.nodes
    disagreement = [str(k) for k in steps if tuple(k) not in graph or (tuple(k) in recorded) != applied]
    if disagreement:
        state = "applied" if applied else "unapplied"
        raise PlanRefusedError(
            f"Django does not consider {', '.join(disagreement)} {state}, so migtool will not run the plan.",
            hint="Run 'migtool status' to see the recorded state; this may be a migtool bug, please report it.",
        )
    return [executor.loader.graph.nodes[tuple(k)] for k in steps]


def forward_order(executor: Any, steps: Sequence[MigrationKey]) -> tuple[MigrationKey, ...]:
    """Return ``steps`` in the order Django will apply them.

    ``_migrate_all_forwards`` runs a forward plan in the order of its full
    plan, whatever order it is given; showing and journaling that order keeps
    what migtool says equal to what happens.
    """
    return tuple(sorted(steps, key=executor.plan_positions().__getitem__))


_full_plans: WeakKeyDictionary[Any, list[tuple[Any, bool]]] = WeakKeyDictionary()
_plan_positions: WeakKeyDictionary[Any, dict[MigrationKey, int]] = WeakKeyDictionary()


def check_history(executor: Any) -> None:
    """Refuse, as ``manage.py migrate`` does, a database whose recorded history is
    inconsistent (a migration applied before one of its dependencies)."""
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    try:
        executor.loader.check_consistent_history(executor.connection)
    except InconsistentMigrationHistory as exc:
        raise PlanRefusedError(
            f"Inconsistent migration history: {exc}",
            hint="Repair django_migrations first ('migtool status' shows what is recorded).",
        ) from None


def collect_sql(connection: Any, prepared: Prepared, fast: bool) -> list[str]:
    """Return the SQL that unapplying ``prepared``'s migrations in order would run, running
    none of it; ``fast`` lets the fast path choose the states it reverts from."""
    statements: list[str] = []
    with swappable_cache_kept():
        for migration, state in unapply_steps(prepared, fast):
            with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
                migration.unapply(state, editor, collect_sql=True)
            statements.append(f"-- Unapply {migration.app_label}.{migration.name}")
            statements.extend(editor.collected_sql)
    return statements


@dataclass
class Prepared:
    """Django's executor and migration objects for a backwards plan, built once
    for the pre-flight checks and reused by the run.

    The states the run starts each migration from are rendered only when first
    asked for: rendering them is most of a rollback's cost on graphs with many
    related models (django-migrations.md §5.3), and a dry run never needs them.
    """

    executor: Any
    migrations: list[Any]
    counts: PathCounts = field(default_factory=PathCounts)

    def replay(self, advance: Callable[[Any, Any], None] | None = None) -> Iterator[tuple[Any, Any]]:
        """Replay the applied history over one unrendered ``ProjectState``, as
        ``MigrationExecutor._migrate_all_backwards`` does, and stop at each of
        ``migrations`` (in the order they were applied) to yield it with the
        state just before it.

        The caller must advance that state over the yielded migration before
        asking for the next one: ``mutate_state(state, preserve=False)``, or
        ``state_forwards`` operation by operation.  ``advance(migration, state)``,
        when given, does the same for the applied migrations in between.
        """
        loader = self.executor.loader
        wanted = set(self.migrations)
        state = ProjectState(real_apps=loader.unmigrated_apps)
        for key in full_plan(loader.graph):
            if not wanted:
                return
            migration = loader.graph.nodes[key]
            if migration in wanted:
                wanted.discard(migration)
                yield migration, state
            elif key in loader.applied_migrations:
                if advance is None:
                    migration.mutate_state(state, preserve=False)
                else:
                    advance(migration, state)

    @cached_property
    def states(self) -> dict[Any, Any]:
        """For each migration, the rendered project state just before it was applied,
        which its reverse operations start from; the models are rendered once and
        each later mutation re-renders only what it changes."""
        states = {}
        for migration, state in self.replay():
            if "apps" not in state.__dict__:
                _ = state.apps
            states[migration] = state.clone()
            migration.mutate_state(state, preserve=False)
        return states

    def forget_states(self) -> None:
        """Running a plan changes the states it started from (``Migration.unapply``
        mutates them); after a rehearsal they are rendered again for the real run."""
        self.__dict__.pop("states", None)


def full_plan(graph: Any) -> list[tuple[str, str]]:
    """Every migration of a Django ``MigrationGraph``, in the order of
    ``MigrationExecutor.migration_plan(graph.leaf_nodes(), clean_start=True)``:
    the order ``_migrate_all_backwards`` replays the history in, and the one a
    rollback's plan reverts in (``DependencyGraph.django_order``, one pass
    instead of Django's one depth-first search per leaf).
    """
    parents = {
        MigrationKey(*key): tuple(MigrationKey(*parent.key) for parent in graph.node_map[key].parents)
        for key in graph.nodes
    }
    return list(DependencyGraph(parents).django_order)


def prepare_backwards(connection: Any, steps: Sequence[MigrationKey], use_originals: bool) -> Prepared:
    """Build what pre-flight checks and the run of a backwards plan both need."""
    executor = build_executor(connection, use_originals)
    return Prepared(executor, plan_migrations(executor, steps))
