"""Pre-flight checks of a backwards plan: what unapplying each migration does, and what stops it.

Django finds an irreversible operation, or a revert that today's data makes
fail, only when it reaches that migration, after every later migration of the
plan was already unapplied and committed (django-migrations.md §3).
``check_steps`` looks at the whole plan first:

* static checks on each operation (``reversible``, a missing reverse inside
  ``SeparateDatabaseAndState``, third-party operations without
  ``database_backwards``);
* data checks, read-only ``SELECT`` queries against today's tables, for reverts
  that restore a constraint the current rows may violate (NOT NULL,
  ``max_length``, UNIQUE, an integer type, a re-added NOT NULL column).

Operations are walked the way ``Migration.unapply`` walks them, so each one is
judged between the state after it (``current``, what the database holds now)
and the state before it (``restored``, what reverting brings back).  A table or
column that does not exist (yet) counts as empty.  Steps are checked in plan
order, each on the data as the earlier steps leave it (``plan_effects``): a
count an earlier step makes unknowable is reported as uncertain, not blocked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.migrations.operations import SeparateDatabaseAndState

from migtool.core.graph import MigrationKey
from migtool.core.safety import StepCheck
from migtool.django_adapter.data_probe import Probe, Revert
from migtool.django_adapter.operation_facts import is_atomic
from migtool.django_adapter.plan_effects import PlanEffects
from migtool.django_adapter.plans import Prepared
from migtool.django_adapter.revert_checks import check_operation
from migtool.django_adapter.state_excerpts import FIELD_OPERATIONS, excerpt


def check_steps(connection: Any, prepared: Prepared) -> list[StepCheck]:
    """Return one ``StepCheck`` per migration of ``prepared``, in plan order.

    Replays the history without rendering the project: each operation's
    checks render only the models they read (``excerpt``), so checking a plan
    costs about what planning it does, whatever the size of the project.
    Runs SELECTs only.
    """
    probe = Probe(connection)
    steps = {
        migration: _steps(migration.app_label, migration.operations, state) for migration, state in prepared.replay()
    }
    earlier = PlanEffects()
    return [
        _check_migration(probe, migration, steps[migration], earlier, number)
        for number, migration in enumerate(prepared.migrations, start=1)
    ]


def _check_migration(probe: Probe, migration: Any, steps: list[tuple], earlier: PlanEffects, number: int) -> StepCheck:
    """Check the plan's step ``number`` on the data ``earlier`` steps leave, then add its own effects."""
    effects: list[str] = []
    blockers: list[str] = []
    data_loss: list[str] = []
    uncertain: list[str] = []
    reverts = []
    for operation, restored, current, inside in reversed(steps):  # reverts run newest first
        revert = Revert(probe, migration.app_label, operation, restored, current, inside, earlier=earlier)
        effect = check_operation(revert)
        effects.append(effect + "".join(f" ({note})" for note in revert.notes))
        blockers += revert.blockers
        data_loss += revert.data_loss
        uncertain += revert.uncertain
        reverts.append(revert)
    key = MigrationKey(migration.app_label, migration.name)
    earlier.record(number, key, reverts)
    if not steps:
        parents = [dep for dep in migration.dependencies if dep[0] == migration.app_label]
        effects.append("merge (no operations)" if len(parents) > 1 else "no operations")
    return StepCheck(
        key=key,
        effects=tuple(effects),
        blockers=tuple(blockers),
        data_loss=tuple(data_loss),
        atomic=is_atomic(migration, [step[0] for step in steps]),
        uncertain=tuple(uncertain),
    )


def _steps(app_label: str, operations: Sequence[Any], state: Any, inside: str = "") -> list[tuple]:
    """Advance ``state`` over ``operations`` as ``Migration.mutate_state`` does, and
    return ``(operation, restored, current, inside)`` per operation, in forward order.

    ``restored`` and ``current`` are excerpts of the state before and after the
    operation.  A ``SeparateDatabaseAndState`` is replaced by its
    ``database_operations``, walked from a copy of its starting state the way
    its ``database_backwards`` does: those are what actually run.
    """
    steps: list[tuple] = []
    for operation in operations:
        if isinstance(operation, SeparateDatabaseAndState) and operation.database_operations:
            steps += _steps(app_label, operation.database_operations, state.clone(), "SeparateDatabaseAndState")
            operation.state_forwards(app_label, state)
            continue
        name = getattr(operation, "model_name_lower", None) or getattr(operation, "name_lower", None)
        model = (app_label, name) if name else None
        field = operation.name if isinstance(operation, FIELD_OPERATIONS) else None
        restored = excerpt(state, model, field)
        operation.state_forwards(app_label, state)
        steps.append((operation, restored, excerpt(state, model, field), inside))
    return steps
