"""Run a batch of migrations through Django's ``MigrationExecutor``, all or nothing.

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
assumed (``restore``).  A rehearsal (``rehearsal``) is the one-transaction way
with a rollback at its end instead of the commit.  Django's executor and the
migration objects for the plan come from ``plans``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migtool.core.graph import MigrationKey
from migtool.django_adapter.fast_path import swappable_cache_kept, unapply_plan
from migtool.django_adapter.loader import load_recorded, load_schema
from migtool.django_adapter.plans import Prepared, build_executor, plan_migrations
from migtool.django_adapter.restore import compensate, reset_connection, verify_restored
from migtool.django_adapter.squash_view import SquashView
from migtool.django_adapter.states import forward_trajectory, pre_migrate_state
from migtool.errors import ExecutionError, RestoreFailedError


@dataclass(frozen=True)
class StepEvent:
    """Progress of one step: ``kind`` is ``start``, ``done``, ``restore`` or ``restored``."""

    kind: str
    key: MigrationKey
    index: int
    total: int


Observer = Callable[[StepEvent], None]


@dataclass(frozen=True)
class Batch:
    """One run of migrations in one direction, as migtool executes it.

    ``in_one_transaction`` is decided by the caller from the pre-flight checks
    (transactional DDL and every step atomic).  ``signals`` emits Django's
    ``pre_migrate``/``post_migrate`` once around a forward batch, as
    ``manage.py migrate`` does (contenttypes, permissions).  ``rehearsal`` runs
    the batch in its one transaction and rolls it back instead of committing.
    """

    steps: tuple[MigrationKey, ...]
    backwards: bool
    in_one_transaction: bool
    use_originals: bool = False
    stale_rows: tuple[MigrationKey, ...] = ()
    signals: bool = False
    rehearsal: bool = False
    fast_path: bool = True

    @property
    def verb(self) -> str:
        return "Unapplying" if self.backwards else "Applying"


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
            if self.flush is not None:  # a deferred constraint that fails here fails this step
                self.flush()
            key = MigrationKey(migration.app_label, migration.name)
            self.done.append(key)
            self.observer(StepEvent(self.kinds[1], key, len(self.done), self.total))


def run_batch(
    connection: Any, batch: Batch, observer: Observer, prepared: Prepared | None = None
) -> frozenset[MigrationKey]:
    """Run ``batch``; on failure bring the database back to where it started.

    A backwards batch runs from ``prepared`` (required for it), so its states
    are not rendered twice; with ``batch.fast_path`` each revert gets only the
    models it reads (``fast_path``).  Returns the rows of ``django_migrations``
    read back after the run (verified).  Raises ``ExecutionError`` (restored,
    verified by re-reading rows and schema) or ``RestoreFailedError`` (not
    restored; says what differs now).
    """
    from django.db import transaction

    before = load_recorded(connection), load_schema(connection)
    flush = _flush_deferred_constraints(connection) if batch.in_one_transaction else None
    tracker = _Tracker(observer, len(batch.steps), ("start", "done"), flush)
    if prepared is None:
        executor = build_executor(connection, batch.use_originals, tracker, recorded=before[0])
        prepared = Prepared(executor, plan_migrations(executor, batch.steps, applied=batch.backwards))
    else:
        executor = prepared.executor
        executor.progress_callback = tracker
    view = SquashView.of(executor.loader)  # before the run changes what a fresh loader would see
    assert batch.in_one_transaction or not batch.rehearsal, "a rehearsal is one transaction"
    try:
        if batch.in_one_transaction:
            with (
                swappable_cache_kept(),
                _foreign_keys_deferred(connection),
                transaction.atomic(using=connection.alias),
            ):
                _migrate(prepared, batch)
                if batch.rehearsal:
                    transaction.set_rollback(True, using=connection.alias)
        else:
            with swappable_cache_kept():
                _migrate(prepared, batch)
    except Exception as exc:
        failed = batch.steps[len(tracker.done)] if len(tracker.done) < len(batch.steps) else None
        connection = reset_connection(connection)
        compensation_error = None
        compensated = not batch.in_one_transaction and bool(tracker.done)
        if compensated:
            undo_tracker = _Tracker(observer, len(tracker.done), ("restore", "restored"))
            compensation_error = compensate(connection, batch, tracker.done, undo_tracker, view)
        verify_restored(reset_connection(connection), before, batch, failed, exc, compensation_error, compensated)
    if batch.rehearsal:
        _verify_rolled_back(connection, before)
        return frozenset(before[0])
    return _verify_done(connection, batch)


def _verify_rolled_back(connection: Any, before: tuple[Any, Any]) -> None:
    """After a rehearsal's rollback, re-read rows and schema: nothing it ran may remain."""
    rows, schema = before
    if set(load_recorded(connection)) != set(rows) or load_schema(connection) != schema:
        raise RestoreFailedError(
            "The rehearsal ran and was rolled back, but re-reading the database shows django_migrations "
            "or the schema changed.",
            hint="Inspect it with 'migtool status' and 'migtool doctor --database'.",
        )


def _verify_done(connection: Any, batch: Batch) -> frozenset[MigrationKey]:
    """After a run Django reported as complete, re-read the state with a fresh loader:
    every step must now be applied (forwards) or unapplied (backwards).  Returns the rows read."""
    recorded = frozenset(load_recorded(connection))
    applied = build_executor(connection, batch.use_originals, recorded=recorded).loader.applied_migrations
    wrong = [str(k) for k in batch.steps if (tuple(k) in applied) == batch.backwards]
    if wrong:
        state = "still applied" if batch.backwards else "not applied"
        raise RestoreFailedError(
            f"{batch.verb} finished, but re-reading the database shows {', '.join(wrong)} {state}; "
            "django_migrations does not describe what ran.",
            hint="Inspect it with 'migtool status' and 'migtool doctor --database', then repair by hand.",
            unexpected=wrong,
        )
    return recorded


def _migrate(prepared: Prepared, batch: Batch) -> None:
    """Apply or unapply ``prepared``'s migrations in order (backwards through
    ``fast_path.unapply_plan``, from the states the fast path or ``Prepared.states`` give)."""
    executor = prepared.executor
    plan = [(m, batch.backwards) for m in prepared.migrations]
    if batch.backwards:
        unapply_plan(prepared, batch.fast_path)
    elif not batch.signals:
        executor.migrate(None, plan=plan)
    else:
        from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal

        alias = executor.connection.alias
        emit_pre_migrate_signal(0, False, alias, apps=pre_migrate_state(executor).apps, plan=plan)
        executor.trajectory = forward_trajectory(executor, plan)
        executor.migrate(None, plan=plan, state=executor.trajectory.start)
        emit_post_migrate_signal(0, False, alias, apps=executor.trajectory.final.apps, plan=plan)
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
