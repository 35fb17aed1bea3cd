"""What reverting each step does, and what stops it: values, no Django.

``migtool.django_adapter.preflight`` fills these in by inspecting each
migration's operations and querying today's data; the planner and renderers
only read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from migtool.core.graph import MigrationKey


@dataclass(frozen=True)
class StepCheck:
    """The pre-flight verdict on unapplying one migration.

    ``effects`` describes what reverting does, one short phrase per operation,
    newest operation first (the order reverts run in).  ``blockers`` are
    irreversible operations and reverts predicted to fail on today's data
    (naming table, column and offending row count); any blocker refuses the
    plan.  ``data_loss`` names what the revert destroys (dropped tables and
    columns, with row counts); it needs confirmation.  ``atomic`` is false when
    the step cannot run inside one transaction on this backend.  ``uncertain``
    are data checks not made because an earlier step of the plan changes what
    they read (a data migration's reverse, a column re-added or renamed), so
    today's rows do not tell: they do not block, and a rehearsal answers them.
    """

    key: MigrationKey
    effects: tuple[str, ...]
    blockers: tuple[str, ...] = ()
    data_loss: tuple[str, ...] = ()
    atomic: bool = True
    uncertain: tuple[str, ...] = ()

    @property
    def reversible(self) -> bool:
        return not self.blockers


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``: how blockers and data loss count what they found."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
