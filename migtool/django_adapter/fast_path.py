"""The rollback fast path: Django's reverts, each handed only the models it reads.

Why this exists: Django renders the whole historical project before it
reverts anything, keeps that render current over every applied migration of
the window, and re-renders the connected component of related models after
each operation; on relation-heavy projects that is nearly all of a
rollback's time, minutes before the first statement (render-speed.md §1).
The SQL of a built-in operation depends only on the models it reads (§2), so
the fast path:

* replays the history **unrendered** and keeps an unrendered snapshot of the
  state before each plan migration (``Prepared.replay``);
* reverts each migration with a copy of ``Migration.unapply`` (the same two
  phases, irreversibility check, ``atomic`` and ``collect_sql`` lines) whose
  phase 1 clones unrendered states, and whose phase 2 seeds each operation's
  two states with a registry from ``minimal_registry``, ``to_state`` first
  (the render order decides SQLite's column order, §4 trap 1);
* leaves the registry to Django's full render, lazily, where a minimal one is
  not known to be enough: ``RunPython`` with real reverse code, ``RenameModel``,
  subclasses and third-party operations, and a registry that fails to build
  (before the operation emits anything);
* runs through the executor's own ``unapply_migration``, so recording,
  squashes and progress stay Django's.

The whole run takes Django's own path (``Prepared.states``) with database
routers (they are handed model classes), a schema editor that is not
Django's, ``--no-fast-path`` or ``MIGTOOL_NO_FAST_PATH=1``, and when a
``RenameField`` inside the replayed window renames a field another field
follows by ``to_field``: Django's states keep the classes rendered before
the rename there, which a fresh render cannot reproduce (§4 trap 3).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from migtool.django_adapter.minimal_registry import RegistryUnavailable, empty_apps, minimal_apps

DISABLING_ENV = "MIGTOOL_NO_FAST_PATH"
_DJANGO_EDITORS = frozenset(
    f"django.db.backends.{vendor}.schema" for vendor in ("sqlite3", "postgresql", "mysql", "oracle")
)


@dataclass
class PathCounts:
    """How many reverted operations got a minimal registry (or needed none), and how
    many Django's full render; a benchmark shows these to prove which path it measured."""

    fast: int = 0
    fallback: int = 0


def requested(flag: bool = True) -> bool:
    """Whether the user leaves the fast path on: ``flag`` (``--no-fast-path`` clears it)
    and the environment (``MIGTOOL_NO_FAST_PATH=1`` switches it off)."""
    return flag and os.environ.get(DISABLING_ENV, "").strip() in ("", "0")


def unapply_plan(prepared: Any, fast: bool) -> None:
    """Unapply ``prepared``'s migrations in order through its executor, as
    ``MigrationExecutor._migrate_all_backwards`` does once its states are rendered
    (without computing the final state, which nothing uses)."""
    executor = prepared.executor
    executor.recorder.ensure_schema()
    for migration, state in unapply_steps(prepared, fast):
        executor.unapply_migration(state, migration)
    executor.check_replacements()


def unapply_steps(prepared: Any, fast: bool) -> Iterator[tuple[Any, Any]]:
    """``(migration, state)`` for each migration of ``prepared``, in plan order, to hand to
    ``MigrationExecutor.unapply_migration`` (or ``.unapply`` for its SQL).

    On the fast path the migration is a ``_FastMigration`` over an unrendered
    state; otherwise Django's migration over ``Prepared.states``.  Counts land
    in ``prepared.counts``.
    """
    from django.conf import settings

    counts = prepared.counts
    counts.fast = counts.fallback = 0  # a rehearsal ran the same prepared plan before
    editor = prepared.executor.connection.SchemaEditorClass
    states = None
    if requested(fast) and not settings.DATABASE_ROUTERS and editor.__module__ in _DJANGO_EDITORS:
        states = _unrendered_states(prepared)
    if states is None:
        for migration in prepared.migrations:
            counts.fallback += len(_leaf_operations(migration.operations))
            yield migration, prepared.states[migration]
        return
    for migration in prepared.migrations:
        yield _FastMigration(migration, counts), states.pop(migration)


@contextlib.contextmanager
def swappable_cache_kept() -> Iterator[None]:
    """Keep the global registry's swappable-settings cache for the duration of a run.

    Since Django 5.0 every ``StateApps.clear_cache()`` (one per model rendered)
    also clears ``get_swappable_settings_name``'s cache, shared by all
    registries, so each foreign key rendered rescans every installed model
    (#34687, render-speed.md §1.4).  The global registry and the settings do not
    change during a migration run; an instance attribute shadows the cleared
    class-level cache meanwhile.
    """
    import functools

    from django.apps import apps as global_apps
    from django.apps.registry import Apps

    if "get_swappable_settings_name" in global_apps.__dict__:
        yield  # already kept by an enclosing run
        return
    scan = Apps.get_swappable_settings_name.__wrapped__  # type: ignore[attr-defined]
    global_apps.__dict__["get_swappable_settings_name"] = functools.cache(functools.partial(scan, global_apps))
    try:
        yield
    finally:
        global_apps.__dict__.pop("get_swappable_settings_name", None)


def _unrendered_states(prepared: Any) -> dict[Any, Any] | None:
    """The unrendered state before each plan migration, or None when a rename inside
    the window changes fields that earlier states share (the run takes Django's path)."""
    states: dict[Any, Any] = {}
    hazard = False

    def advance(migration: Any, state: Any) -> None:
        nonlocal hazard
        for operation in migration.operations:
            hazard = hazard or (bool(states) and _renames_followed_field(migration.app_label, operation, state))
            operation.state_forwards(migration.app_label, state)

    for migration, state in prepared.replay(advance):
        states[migration] = state.clone()
        advance(migration, state)
    return None if hazard else states


def _renames_followed_field(app_label: str, operation: Any, state: Any) -> bool:
    """Whether ``operation`` renames a field that ``rename_field`` would rewrite other
    fields for in place (a ``to_field``, ``from_fields`` or composite key naming it)."""
    from django.db.migrations.operations import RenameField, SeparateDatabaseAndState
    from django.db.migrations.utils import get_references

    if isinstance(operation, SeparateDatabaseAndState):
        return any(_renames_followed_field(app_label, op, state) for op in operation.state_operations)
    if not isinstance(operation, RenameField):
        return False
    key = (app_label, operation.model_name_lower)
    old = operation.old_name
    model_state = state.models.get(key)
    if model_state is None or old not in model_state.fields:
        return False
    for field in model_state.fields.values():
        if old in (getattr(field, "from_fields", None) or ()) or old in (getattr(field, "field_names", None) or ()):
            return True
    for *_, reference in get_references(state, key, (old, model_state.fields[old])):
        if reference.to:
            remote_field, to_fields = reference.to
            if getattr(remote_field, "field_name", None) == old or old in (to_fields or ()):
                return True
    return False


def _leaf_operations(operations: Any) -> list[Any]:
    from django.db.migrations.operations import SeparateDatabaseAndState

    leaves: list[Any] = []
    for operation in operations:
        if type(operation) is SeparateDatabaseAndState:
            leaves += _leaf_operations(operation.database_operations)
        else:
            leaves.append(operation)
    return leaves


class _FastMigration:
    """A migration whose ``unapply`` is the fast path's; everything else is the migration's
    own (the executor reads ``atomic``, ``replaces``, ``app_label`` and ``name``)."""

    def __init__(self, migration: Any, counts: PathCounts) -> None:
        self._migration, self._counts = migration, counts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._migration, name)

    def __str__(self) -> str:
        return str(self._migration)

    def unapply(self, project_state: Any, schema_editor: Any, collect_sql: bool = False) -> Any:
        """``Migration.unapply`` (identical in Django 4.2 to 6.1) with per-operation registries."""
        from django.db.migrations.exceptions import IrreversibleError
        from django.db.transaction import atomic

        migration = self._migration
        to_run: list[tuple[Any, Any, Any]] = []
        new_state = project_state
        for operation in migration.operations:
            if not operation.reversible:
                raise IrreversibleError(f"Operation {operation} in {migration} is not reversible")
            new_state = new_state.clone()
            old_state = new_state.clone()
            operation.state_forwards(migration.app_label, new_state)
            to_run.insert(0, (operation, old_state, new_state))
        for operation, to_state, from_state in to_run:
            if collect_sql:
                schema_editor.collected_sql.append("--")
                schema_editor.collected_sql.append(f"-- {operation.describe()}")
                schema_editor.collected_sql.append("--")
                if not operation.reduces_to_sql:
                    schema_editor.collected_sql.append("-- THIS OPERATION CANNOT BE WRITTEN AS SQL")
                    continue
                collected_sql_before = len(schema_editor.collected_sql)
            atomic_operation = operation.atomic or (migration.atomic and operation.atomic is not False)
            if not schema_editor.atomic_migration and atomic_operation:
                with atomic(schema_editor.connection.alias):
                    self._backwards(operation, schema_editor, from_state, to_state)
            else:
                self._backwards(operation, schema_editor, from_state, to_state)
            if collect_sql and collected_sql_before == len(schema_editor.collected_sql):
                schema_editor.collected_sql.append("-- (no-op)")
        return project_state

    def _backwards(self, operation: Any, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        """``operation.database_backwards`` with the registries it reads seeded on its states."""
        from django.db.migrations.operations import SeparateDatabaseAndState

        app_label = self._migration.app_label
        if type(operation) is SeparateDatabaseAndState:
            # SeparateDatabaseAndState.database_backwards, walking each database operation the same way.
            to_states = {}
            for database_operation in operation.database_operations:
                to_states[database_operation] = to_state
                to_state = to_state.clone()
                database_operation.state_forwards(app_label, to_state)
            for database_operation in reversed(operation.database_operations):
                from_state, to_state = to_state, to_states[database_operation]
                self._backwards(database_operation, schema_editor, from_state, to_state)
            return
        seeded = _seed(app_label, operation, from_state, to_state)
        if seeded:
            self._counts.fast += 1
        else:
            self._counts.fallback += 1
        try:
            operation.database_backwards(app_label, schema_editor, from_state, to_state)
        finally:
            for state in (to_state, from_state):
                state.__dict__.pop("apps", None)  # one registry alive at a time


def _seed(app_label: str, operation: Any, from_state: Any, to_state: Any) -> bool:
    """Give ``operation``'s states the registries its reverse reads; False when it needs the
    full historical registry (left to Django's cached ``ProjectState.apps``)."""
    from django.db.migrations import operations as ops

    kind = type(operation)
    if kind in _NO_REGISTRY:
        return True
    if kind is ops.RunPython and operation.reverse_code is ops.RunPython.noop:
        from_state.__dict__["apps"] = empty_apps(from_state)  # handed to noop, never read
        return True
    referrers = kind in _REFERRER_READERS
    if not referrers and kind not in _MODEL_READERS:
        return False
    model = getattr(operation, "model_name_lower", None) or operation.name_lower
    try:
        for state in (to_state, from_state):  # the earlier state first, as Django renders it
            if (app_label, model) in state.models:
                state.__dict__["apps"] = minimal_apps(state, (app_label, model), referrers=referrers)
    except RegistryUnavailable:
        for state in (to_state, from_state):
            state.__dict__.pop("apps", None)
        return False
    return True


def _operation_types(*names: str) -> frozenset[type]:
    """The built-in operation classes of this Django among ``names`` (some are newer)."""
    from django.db.migrations import operations as ops

    return frozenset(getattr(ops, name) for name in names if hasattr(ops, name))


# Reverts that read their model and what it points at (render-speed.md §2).
_MODEL_READERS = _operation_types(
    "CreateModel",
    "DeleteModel",
    "AddField",
    "RemoveField",
    "AddIndex",
    "RemoveIndex",
    "RenameIndex",
    "AddConstraint",
    "RemoveConstraint",
    "AlterUniqueTogether",
    "AlterIndexTogether",
    "AlterModelTable",
    "AlterModelTableComment",
    "AlterOrderWithRespectTo",
)
# Reverts through ``schema_editor.alter_field``, which reads reverse relations.
_REFERRER_READERS = _operation_types("AlterField", "RenameField")
# Reverts that read no model at all.
_NO_REGISTRY = _operation_types("RunSQL", "AlterModelOptions", "AlterModelManagers", "AlterConstraint")
