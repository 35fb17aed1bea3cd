"""The rendered project states of a forward batch, shared between targets.

Why this exists: once a batch has work to do, most of a target's remaining
CPU time goes to project states.  There is the state the batch starts from,
and one more per operation: each ``state_forwards`` re-renders the model it
changes and the models related to it.  There is also the final state for
``post_migrate`` (fleets.md §4.2: about 38 ms a render for 30 models and 300
migrations, while a clone of a rendered state costs 0.3 ms).  The tenants of
a fleet mostly share one applied set and one plan, and applying the same plan
to the same start always gives the same states.  So in a process:

* the start state is rendered once per (applied set, squash view).  Each
  target starts from a clone of it, which is what Django's own ``migrate``
  hands the executor (``pre_migrate_state.clone()``);
* the states around each operation, and the final one, are computed once per
  (start, plan): the ``Trajectory``.  Each target runs Django's own
  ``apply_migration`` and ``Migration.apply`` on a stand-in of each
  migration.  The stand-in's operations are pinned to those states, so the
  database work is Django's, done with the states Django would have built.
  ``post_migrate`` receivers only read the final state's models.

A few of each are kept, the most recently used.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

_KEPT = 4
_start: OrderedDict[Hashable, Any] = OrderedDict()
_trajectories: OrderedDict[Hashable, Trajectory] = OrderedDict()


def state_key(loader: Any) -> Hashable:
    """What the start state of a batch depends on: the applied set and the squash view."""
    return (bool(loader.replace_migrations), frozenset(loader.applied_migrations))


def _kept(cache: OrderedDict[Hashable, Any], key: Hashable, make: Callable[[], Any]) -> Any:
    if key not in cache:
        cache[key] = make()
        while len(cache) > _KEPT:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


def _rendered_start(executor: Any) -> Any:
    def render() -> Any:
        state = executor._create_project_state(with_applied_migrations=True)
        _ = state.apps
        return state

    return _kept(_start, state_key(executor.loader), render)


def pre_migrate_state(executor: Any) -> Any:
    """A rendered clone of the state after ``executor``'s applied migrations."""
    return _rendered_start(executor).clone()


class _PinnedOperation:
    """An operation whose states are fixed: ``Migration.apply`` asks it to advance a
    state (nothing to do: the state after it is known) and then to change the
    database between two states, which it does from the pinned ones."""

    def __init__(self, operation: Any, before: Any, after: Any) -> None:
        self.operation, self.before, self.after = operation, before, after

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self.operation.database_forwards(app_label, schema_editor, self.before, self.after)

    def __getattr__(self, name: str) -> Any:  # atomic, reduces_to_sql, describe(), ...
        return getattr(self.operation, name)


class Trajectory:
    """The states of one forward plan from one start state: for each migration, a
    stand-in with pinned operations, and the state after it.  Read-only once built."""

    def __init__(self, start: Any, plan: list[tuple[Any, bool]]) -> None:
        state = start.clone()
        self.start = start
        self._stand_ins: dict[tuple[str, str], Any] = {}
        self._after: dict[tuple[str, str], Any] = {}
        before = start
        for migration, _ in plan:
            pinned = []
            for operation in migration.operations:
                operation.state_forwards(migration.app_label, state)
                after = state.clone()
                pinned.append(_PinnedOperation(operation, before, after))
                before = after
            stand_in = copy.copy(migration)
            stand_in.operations = pinned
            key = (migration.app_label, migration.name)
            self._stand_ins[key], self._after[key] = stand_in, before
        before.clear_delayed_apps_cache()
        self.final = before

    def stand_in(self, migration: Any) -> Any | None:
        """The migration with its operations pinned, or None if it is not in the plan."""
        return self._stand_ins.get((migration.app_label, migration.name))

    def after(self, migration: Any) -> Any:
        return self._after[(migration.app_label, migration.name)]


def forward_trajectory(executor: Any, plan: list[tuple[Any, bool]]) -> Trajectory:
    """The trajectory of the forward ``plan`` from the state after ``executor``'s applied
    migrations, in the order Django applies it (that of its full plan).  Build it after
    ``pre_migrate``: its receivers may add operations to the plan's migrations
    (contenttypes does)."""
    wanted = {(m.app_label, m.name) for m, _ in plan}
    full_plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    ordered = [(m, False) for m, _ in full_plan if (m.app_label, m.name) in wanted]
    key = (state_key(executor.loader), tuple((m.app_label, m.name) for m, _ in ordered))
    return _kept(_trajectories, key, lambda: Trajectory(_rendered_start(executor), ordered))  # type: ignore[no-any-return]
