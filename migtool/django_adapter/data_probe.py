"""Read-only questions about today's data, asked by the pre-flight checks.

``Probe`` answers for one connection (does this table and column exist, how
many rows match), each query in a savepoint so a failing one leaves no aborted
transaction.  ``Revert`` is one operation to revert, with what its checks
found: notes, blockers, data loss, and checks left uncertain because an
earlier step of the plan changes what they read (``plan_effects``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, transaction

if TYPE_CHECKING:
    from migtool.django_adapter.plan_effects import Effect, PlanEffects


class Probe:
    """Read-only questions about today's data on one connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.quote = connection.ops.quote_name
        self._tables: set[str] | None = None
        self._columns: dict[str, set[str]] = {}

    def exists(self, table: str, columns: Sequence[str]) -> bool:
        """Whether ``table`` and all ``columns`` exist now (an earlier revert may create them)."""
        introspection = self.connection.introspection
        fold = str.lower if self.connection.features.ignores_table_name_case else str
        if self._tables is None:
            self._tables = {fold(name) for name in introspection.table_names()}
        if fold(table) not in self._tables:
            return False
        if table not in self._columns:
            # The cursor's description of an empty result: one cheap query on every
            # backend, where introspection's get_table_description runs several.
            with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
                cursor.execute(f"SELECT * FROM {self.quote(table)} WHERE 1 = 0")
                self._columns[table] = {fold(column[0]) for column in cursor.description}
        return {fold(column) for column in columns} <= self._columns[table]

    def scalar(self, sql: str, params: Sequence[Any]) -> int:
        """Run one SELECT returning a number, in a savepoint so a failure leaves no aborted transaction."""
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            cursor.execute(sql, list(params) or None)
            row = cursor.fetchone()
        return int(row[0] or 0)


@dataclass
class Revert:
    """One operation to revert: from ``current`` (the state after it) back to ``restored``.

    Handlers record what they find in ``notes`` (appended to the effect),
    ``blockers`` and ``data_loss``; ``count`` records in ``uncertain`` what it
    did not count because of ``earlier``, the effects of the plan's earlier steps.
    """

    probe: Probe
    app_label: str
    operation: Any
    restored: Any
    current: Any
    inside: str = ""
    notes: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    data_loss: list[str] = field(default_factory=list)
    earlier: PlanEffects | None = None
    uncertain: list[str] = field(default_factory=list)
    asked: Any = None  # the model ``allowed`` was last asked about

    @property
    def connection(self) -> Any:
        return self.probe.connection

    def model(self, state: Any, name: str) -> Any:
        return state.apps.get_model(self.app_label, name)

    def model_state(self, state: Any, name_lower: str) -> Any:
        return state.models[self.app_label, name_lower]

    def allowed(self, model: Any) -> bool:
        """What the operation's ``database_backwards`` asks before touching ``model``."""
        self.asked = model
        return bool(self.operation.allow_migrate_model(self.connection.alias, model))

    def skipped(self) -> str:
        """Django leaves the table alone: say why (unmanaged, proxy, swapped, or routed elsewhere)."""
        meta = self.asked._meta
        why = (
            "the model is unmanaged: Django never creates or drops its table"
            if not meta.managed
            else "a proxy model has no table of its own"
            if meta.proxy
            else f"the model is swapped for {meta.swapped}"
            if meta.swapped
            else "not migrated on this database"
        )
        return f"skip: {self.operation.describe()} ({why})"

    def count(self, what: str, table: str, columns: Sequence[str], sql: str, params: Sequence[Any] = ()) -> int | None:
        """``SELECT COUNT(*)``-style probe; 0 if the table or a column is missing, None if it failed
        or depends on what an earlier step of the plan does to the data (see ``plan_effects``)."""
        depends = self.earlier.affecting(table, columns) if self.earlier is not None else None
        if depends is not None:
            return self._as_left_by(depends, what, table)
        try:
            if not self.probe.exists(table, columns):
                return 0
            return self.probe.scalar(sql, params)
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.notes.append(f"could not check {what}: {first_line}")
            return None

    def _as_left_by(self, effect: Effect, what: str, table: str) -> int | None:
        """The count once ``effect`` ran: exactly 0 in a table it emptied, else unknown here."""
        depends = f"depends on step {effect.step} ({effect.key}), which {effect.what}"
        if effect.empties:
            if self.probe.exists(table, ()):  # today's rows would be counted otherwise
                self.notes.append(f"{depends}: {table} is empty by then")
            return 0
        self.notes.append(f"uncertain: {depends}")
        self.uncertain.append(
            f"{what} not counted: it {depends}, so today's rows do not tell; run with --rehearse for the exact answer."
        )
        return None

    def rows(self, table: str, where: str = "", columns: Sequence[str] = ()) -> int | None:
        sql = f"SELECT COUNT(*) FROM {self.probe.quote(table)}" + (f" WHERE {where}" if where else "")
        return self.count(f"rows of {table}", table, columns, sql)

    def duplicates(self, table: str, columns: Sequence[str], nulls_distinct: bool = True) -> int | None:
        """How many values (combinations) of ``columns`` occur in more than one row.

        Rows with a NULL in any column are ignored, as unique indexes do, unless
        the constraint says ``nulls_distinct=False``.
        """
        quote = self.probe.quote
        cols = ", ".join(quote(c) for c in columns)
        where = " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns) if nulls_distinct else "1 = 1"
        sql = (
            f"SELECT COUNT(*) FROM (SELECT 1 AS one FROM {quote(table)} WHERE {where} "
            f"GROUP BY {cols} HAVING COUNT(*) > 1) dup"
        )
        return self.count(f"duplicates in {table}({', '.join(columns)})", table, columns, sql)
