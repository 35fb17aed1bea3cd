"""Run a backwards plan through Django's ``MigrationExecutor``, all or nothing.

Django validates nothing about an explicit backwards plan and discovers
problems one migration at a time (django-migrations.md §2.4, §3).  migtool
plans and checks first (``migtool.core.planner``, ``preflight``), then runs the
plan here in one of two ways:

* one transaction, where the backend has transactional DDL and every step is
  atomic: a failure rolls everything back (§4.2 traps handled: SQLite's
  foreign-key pragma, PostgreSQL's pending trigger events);
* step by step otherwise (MySQL/MariaDB, non-atomic steps): a failure re-applies
  the steps already reverted, newest first.

Either way the outcome is verified by re-reading ``django_migrations``, never
assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from migtool.core.graph import MigrationKey
from migtool.django_adapter.loader import FilesReadOnceLoader, load_recorded, load_schema
from migtool.errors import ExecutionError, PlanRefusedError, RestoreFailedError


@dataclass(frozen=True)
class StepEvent:
    """Progress of one step: ``kind`` is ``start``, ``done``, ``restore`` or ``restored``."""

    kind: str
    key: MigrationKey
    index: int
    total: int


Observer = Callable[[StepEvent], None]


class _Executor(MigrationExecutor):
    """Django's ``MigrationExecutor`` over migtool's loader.

    ``MigrationExecutor.__init__`` (the same four lines in Django 4.2 to 6.1)
    would build its own ``MigrationLoader`` and read every migration file again.
    """

    def __init__(self, connection: Any, progress: Callable[..., None] | None, replace_migrations: bool) -> None:
        self.connection = connection
        self.loader = FilesReadOnceLoader(connection, replace_migrations=replace_migrations)
        self.recorder = MigrationRecorder(connection)
        self.progress_callback = progress


def build_executor(connection: Any, use_originals: bool, progress: Callable[..., None] | None = None) -> Any:
    """Return a fresh executor; after any failure Django's caches are stale (§1.3).

    With ``use_originals`` squashes are not replaced, as Django's own
    ``migration_plan`` does to target a replaced migration.
    """
    return _Executor(connection, progress, replace_migrations=not use_originals)


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
    full_plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    position = {MigrationKey(m.app_label, m.name): i for i, (m, _) in enumerate(full_plan)}
    return tuple(sorted(steps, key=position.__getitem__))


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


def collect_sql(connection: Any, migrations: Sequence[Any], states: dict[Any, Any]) -> list[str]:
    """Return the SQL that unapplying ``migrations`` in order would run, running none of it."""
    statements: list[str] = []
    for migration in migrations:
        with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            migration.unapply(states[migration], editor, collect_sql=True)
        statements.append(f"-- Unapply {migration.app_label}.{migration.name}")
        statements.extend(editor.collected_sql)
    return statements


@dataclass(frozen=True)
class Batch:
    """One run of migrations in one direction, as migtool executes it.

    ``in_one_transaction`` is decided by the caller from the pre-flight checks
    (transactional DDL and every step atomic).  ``signals`` emits Django's
    ``pre_migrate``/``post_migrate`` once around a forward batch, as
    ``manage.py migrate`` does (contenttypes, permissions).
    """

    steps: tuple[MigrationKey, ...]
    backwards: bool
    in_one_transaction: bool
    use_originals: bool = False
    stale_rows: tuple[MigrationKey, ...] = ()
    signals: bool = False

    @property
    def verb(self) -> str:
        return "Unapplying" if self.backwards else "Applying"


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

    def replay(self) -> Iterator[tuple[Any, Any]]:
        """Replay the applied history over one unrendered ``ProjectState``, as
        ``MigrationExecutor._migrate_all_backwards`` does, and stop at each of
        ``migrations`` (in the order they were applied) to yield it with the
        state just before it.

        The caller must advance that state over the yielded migration before
        asking for the next one: ``mutate_state(state, preserve=False)``, or
        ``state_forwards`` operation by operation.
        """
        from django.db.migrations.state import ProjectState

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
                migration.mutate_state(state, preserve=False)

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


def full_plan(graph: Any) -> list[tuple[str, str]]:
    """Every migration of a Django ``MigrationGraph``, in the order of
    ``MigrationExecutor.migration_plan(graph.leaf_nodes(), clean_start=True)``:
    the order ``_migrate_all_backwards`` replays the history in.

    Django runs one depth-first search per leaf, each walking all the leaf's
    ancestors again: leaves × migrations steps, a tenth of a second on 2,000
    migrations.  The same post-order search, skipping what an earlier leaf
    already planned, gives the same order in one pass (the skipped parts hold
    only planned migrations, so they add nothing and move nothing).
    """
    planned: set[tuple[str, str]] = set()
    order: list[tuple[str, str]] = []
    for leaf in graph.leaf_nodes():
        stack = [(graph.node_map[leaf], False)]
        while stack:
            node, expanded = stack.pop()
            if node.key in planned:
                continue
            if expanded:
                planned.add(node.key)
                order.append(node.key)
            else:
                stack.append((node, True))
                stack += [(parent, False) for parent in sorted(node.parents)]
    return order


def prepare_backwards(connection: Any, steps: Sequence[MigrationKey], use_originals: bool) -> Prepared:
    """Build what pre-flight checks and the run of a backwards plan both need."""
    executor = build_executor(connection, use_originals)
    return Prepared(executor, plan_migrations(executor, steps))


class _Tracker:
    """Turns Django's string progress callbacks into ``StepEvent``s and remembers
    which steps completed, so a failure knows what to compensate."""

    def __init__(self, observer: Observer, total: int, kinds: tuple[str, str], flush: Any = None) -> None:
        self.observer, self.total, self.kinds, self.flush = observer, total, kinds, flush
        self.done: list[MigrationKey] = []

    def __call__(self, action: str, migration: Any = None, fake: bool = False) -> None:
        if action.endswith("_start") and migration is not None:
            key = MigrationKey(migration.app_label, migration.name)
            self.observer(StepEvent(self.kinds[0], key, len(self.done) + 1, self.total))
        elif action.endswith("_success") and migration is not None:
            key = MigrationKey(migration.app_label, migration.name)
            self.done.append(key)
            self.observer(StepEvent(self.kinds[1], key, len(self.done), self.total))
            if self.flush is not None:
                self.flush()


def run_batch(connection: Any, batch: Batch, observer: Observer, prepared: Prepared | None = None) -> None:
    """Run ``batch``; on failure bring the database back to where it started.

    A backwards batch runs from ``prepared`` (required for it), so its states
    are not rendered twice.  Raises ``ExecutionError`` (restored, verified by
    re-reading rows and schema) or ``RestoreFailedError`` (not restored; says
    what differs now).
    """
    from django.db import transaction

    before = load_recorded(connection), load_schema(connection)
    flush = _flush_deferred_constraints(connection) if batch.in_one_transaction else None
    tracker = _Tracker(observer, len(batch.steps), ("start", "done"), flush)
    if prepared is None:
        executor = build_executor(connection, batch.use_originals, tracker)
        migrations = plan_migrations(executor, batch.steps, applied=batch.backwards)
        states: dict[Any, Any] = {}
    else:
        executor, migrations, states = prepared.executor, prepared.migrations, prepared.states
        executor.progress_callback = tracker
    try:
        if batch.in_one_transaction:
            with _foreign_keys_deferred(connection), transaction.atomic(using=connection.alias):
                _migrate(executor, migrations, states, batch)
        else:
            _migrate(executor, migrations, states, batch)
    except Exception as exc:
        failed = batch.steps[len(tracker.done)] if len(tracker.done) < len(batch.steps) else None
        connection = _reset(connection)
        compensation_error = None
        compensated = not batch.in_one_transaction and bool(tracker.done)
        if compensated:
            compensation_error = _compensate(connection, batch, tracker.done, observer)
        _verify_restored(_reset(connection), before, batch, failed, exc, compensation_error, compensated)
    _verify_done(connection, batch)


def _verify_done(connection: Any, batch: Batch) -> None:
    """After a run Django reported as complete, re-read the state with a fresh loader:
    every step must now be applied (forwards) or unapplied (backwards)."""
    applied = build_executor(connection, batch.use_originals).loader.applied_migrations
    wrong = [str(k) for k in batch.steps if (tuple(k) in applied) == batch.backwards]
    if wrong:
        state = "still applied" if batch.backwards else "not applied"
        raise RestoreFailedError(
            f"{batch.verb} finished, but re-reading the database shows {', '.join(wrong)} {state}; "
            "django_migrations does not describe what ran.",
            hint="Inspect it with 'migtool status' and 'migtool doctor --database', then repair by hand.",
            unexpected=wrong,
        )


def _migrate(executor: Any, migrations: list[Any], states: dict[Any, Any], batch: Batch) -> None:
    """Apply or unapply ``migrations`` in order.

    Backwards, this is what ``MigrationExecutor._migrate_all_backwards`` does
    once its states are rendered, from the states already prepared (and
    without computing the final state, which nothing uses).
    """
    plan = [(m, batch.backwards) for m in migrations]
    if batch.backwards:
        executor.recorder.ensure_schema()
        for migration in migrations:
            executor.unapply_migration(states[migration], migration)
        executor.check_replacements()
    elif not batch.signals:
        executor.migrate(None, plan=plan)
    else:
        from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal

        alias = executor.connection.alias
        state = executor._create_project_state(with_applied_migrations=True)
        emit_pre_migrate_signal(0, False, alias, apps=state.apps, plan=plan)
        state = executor.migrate(None, plan=plan, state=state.clone())
        state.clear_delayed_apps_cache()
        emit_post_migrate_signal(0, False, alias, apps=state.apps, plan=plan)
    for key in batch.stale_rows:
        executor.recorder.record_unapplied(*key)


def _flush_deferred_constraints(connection: Any) -> Callable[[], None] | None:
    """On PostgreSQL, fire deferred FK triggers after each step of a one-transaction
    batch, or the next ALTER TABLE fails with "pending trigger events" (§4.2)."""
    if connection.vendor != "postgresql":
        return None

    def flush() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")

    return flush


class _foreign_keys_deferred:
    """On SQLite, switch foreign-key enforcement off *before* the outer transaction.

    The SQLite schema editor refuses to run inside a transaction while the
    pragma is on, and the pragma cannot change inside one (§4.2).  Each schema
    editor still runs ``PRAGMA foreign_key_check`` when it exits.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        if self.connection.vendor == "sqlite" and not self.connection.disable_constraint_checking():
            raise ExecutionError("Could not switch off SQLite foreign-key checks for the transaction; nothing ran.")

    def __exit__(self, *exc: object) -> None:
        if self.connection.vendor == "sqlite":
            self.connection.enable_constraint_checking()


def _reset(connection: Any) -> Any:
    """Return a usable connection for the alias after a failure.

    SQLite's schema editor can raise inside ``__exit__`` before leaving its
    atomic block (§2.4), and Django then keeps the wrapper marked as inside a
    transaction even once closed.  Such a wrapper is closed (rolling back what
    is uncommitted) and replaced by a fresh one for everything that follows.
    """
    from django.db import connections

    if connection.connection is not None and (connection.in_atomic_block or not connection.get_autocommit()):
        connection.close()
        connections[connection.alias] = connections.create_connection(connection.alias)
        return connections[connection.alias]
    connection.close_if_unusable_or_obsolete()
    return connection


def _compensate(connection: Any, batch: Batch, done: list[MigrationKey], observer: Observer) -> BaseException | None:
    """Undo, with a fresh executor, the steps of ``batch`` that completed, newest first.

    Returns the error if that fails too; ``_verify_restored`` then reads what
    is applied now.
    """
    tracker = _Tracker(observer, len(done), ("restore", "restored"))
    executor = build_executor(connection, batch.use_originals, tracker)
    try:
        executor.migrate(
            None, plan=[(executor.loader.graph.nodes[tuple(k)], not batch.backwards) for k in reversed(done)]
        )
    except Exception as exc:  # reported, with what is applied now, by _verify_restored
        return exc
    return None


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def _verify_restored(
    connection: Any,
    before: tuple[Any, frozenset[tuple[str, ...]]],
    batch: Batch,
    failed: MigrationKey | None,
    error: BaseException,
    compensation_error: BaseException | None,
    compensated: bool,
) -> None:
    rows_before, schema_before = before
    after, schema_after = load_recorded(connection), load_schema(connection)
    what = f"{batch.verb} {failed} failed" if failed else f"{batch.verb} the batch failed"
    reason = first_line(error)
    if set(after) == set(rows_before) and schema_after == schema_before and compensation_error is None:
        # Re-applying a reverted step re-creates what it had dropped, empty; unapplying a
        # forward step drops what it created, with anything written into it meanwhile.
        lost = (
            " Tables and columns that were dropped and re-created are back empty: their data is lost."
            if compensated and batch.backwards
            else ""
        )
        raise ExecutionError(
            f"{what} ({reason}); the database was restored to its starting state (rows and schema verified).{lost}",
            hint="Fix the cause, then run the command again.",
            failed=str(failed) if failed else None,
            error=reason,
        )
    gone = sorted(str(k) for k in set(rows_before) - set(after))
    extra = sorted(str(k) for k in set(after) - set(rows_before))
    schema = _schema_changes(schema_before, schema_after)
    undo = f"; restoring failed too ({first_line(compensation_error)})" if compensation_error else ""
    raise RestoreFailedError(
        f"{what} ({reason}){undo}. The database was NOT restored: "
        f"no longer applied: {', '.join(gone) or 'none'}; newly applied: {', '.join(extra) or 'none'}"
        f"{'; schema differs: ' + schema if schema else ''}.",
        hint="Inspect it with 'migtool status', fix the cause, then migrate or roll back by hand.",
        failed=str(failed) if failed else None,
        error=reason,
        unapplied_now=gone,
        applied_now=extra,
        schema_changes=schema,
    )


def _schema_changes(before: frozenset[tuple[str, ...]], after: frozenset[tuple[str, ...]]) -> str:
    """Name the columns that appeared or disappeared (or changed type), a few at most."""
    changed = [f"+{t}.{c}" for t, c, *_ in sorted(after - before)] + [
        f"-{t}.{c}" for t, c, *_ in sorted(before - after)
    ]
    return ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
