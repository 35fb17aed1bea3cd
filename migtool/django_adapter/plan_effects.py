"""Data as the plan leaves it: what earlier steps of a backwards plan did to the tables a check reads.

A data check counts today's rows, but a step of a backwards plan runs after
every earlier step of the plan was reverted.  A data migration's reverse may
have filled the NULLs a NOT NULL restore would fail on (today's count is then
a false blocker); a re-added column comes back empty; a renamed column has
another name today.  ``PlanEffects`` records, step by step in plan order, what
each revert does to which table and column, and ``Revert.count`` asks it
before counting today's rows:

* a table an earlier step dropped or re-created holds no rows by then, which
  is known exactly (0), unless a data migration ran on it afterwards;
* any other earlier effect on the table or column (a column dropped, re-added,
  altered or renamed; a ``RunPython`` reverse, which may touch any table; a
  ``RunSQL`` reverse naming the table, or whose tables cannot be told) makes
  the check *uncertain*: it does not count today's rows, does not block, says
  which step it depends on and suggests ``--rehearse``.

Operations of the same step are not applied to each other's checks: a step
is judged on the data as the earlier steps leave it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import router
from django.db.migrations.operations import (
    AddField,
    AlterField,
    AlterModelTable,
    CreateModel,
    DeleteModel,
    RemoveField,
    RenameField,
    RenameModel,
    RunPython,
    RunSQL,
)

from migtool.core.graph import MigrationKey
from migtool.django_adapter.data_probe import Revert
from migtool.django_adapter.operation_facts import callable_name, sql_snippet, sql_text

# Words after which SQL names the table it reads or writes.
_TABLE_NAMED = re.compile(
    r"\b(?:UPDATE|INTO|FROM|JOIN|TABLE|TRUNCATE)\s+(?:ONLY\s+)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    r"[`\"\[]?(?:\w+[`\"\]]?\.[`\"\[]?)?(\w+)",
    re.IGNORECASE,
)
# Statements whose effects are on the tables they name; anything else (DO, CALL, EXECUTE…) may touch any.
_NAMING_STATEMENTS = frozenset({"select", "with", "update", "insert", "delete", "alter", "drop", "create", "truncate"})
ANY_TABLE = "*"
_FIELD_VERBS = ((AddField, "drops"), (RemoveField, "re-adds"), (AlterField, "alters"), (RenameField, "renames"))
_SCHEMA_OPERATIONS = (
    CreateModel,
    DeleteModel,
    RenameModel,
    AlterModelTable,
    AddField,
    RemoveField,
    AlterField,
    RenameField,
)


@dataclass(frozen=True)
class Effect:
    """What step ``step`` (plan position, 1-based) does to ``table`` (``ANY_TABLE``: maybe any),
    or to its ``column``; ``empties`` when the table holds no rows afterwards."""

    step: int
    key: MigrationKey
    what: str
    table: str
    column: str | None = None
    empties: bool = False
    data_code: bool = False  # RunPython/RunSQL: may write rows, in ways no check can know


class PlanEffects:
    """The effects of the steps reverted so far, in plan order."""

    def __init__(self) -> None:
        self._effects: list[Effect] = []

    def record(self, step: int, key: MigrationKey, reverts: Sequence[Revert]) -> None:
        """Add what reverting one migration (its ``reverts``, in the order they ran) does."""
        for revert in reverts:
            self._effects += _effects(step, key, revert)

    def affecting(self, table: str, columns: Sequence[str]) -> Effect | None:
        """The earlier effect a check reading ``columns`` of ``table`` depends on, or None.

        An emptied table stays empty (its count is exactly 0) until data code may
        write it again; then, or for any other effect, the latest one is returned.
        """
        table, wanted = table.lower(), {c.lower() for c in columns}
        relevant = [
            e
            for e in self._effects
            if e.table in (table, ANY_TABLE) and (e.column is None or e.column.lower() in wanted)
        ]
        emptied = [i for i, e in enumerate(relevant) if e.empties]
        if not emptied:
            return relevant[-1] if relevant else None
        refilled = [e for e in relevant[emptied[-1] + 1 :] if e.data_code]
        return refilled[-1] if refilled else relevant[emptied[-1]]


def _effects(step: int, key: MigrationKey, revert: Revert) -> list[Effect]:
    """What one operation's revert does to tables and columns, as ``Effect``s."""
    operation = revert.operation

    def effect(what: str, table: str, column: str | None = None, **kind: bool) -> Effect:
        return Effect(step, key, what, table.lower(), column, **kind)

    if isinstance(operation, RunPython):
        if operation.reverse_code in (None, RunPython.noop) or not _routed_here(revert):
            return []
        return [effect(f"runs RunPython {callable_name(operation.reverse_code)}", ANY_TABLE, data_code=True)]
    if isinstance(operation, RunSQL):
        if not operation.reverse_sql or not _routed_here(revert):
            return []
        what = f"runs RunSQL ({sql_snippet(operation.reverse_sql)})"
        return [effect(what, table, data_code=True) for table in sql_tables(operation.reverse_sql)]
    if not isinstance(operation, _SCHEMA_OPERATIONS):
        return []
    model_name = getattr(operation, "model_name", None) or operation.name
    # What later checks read is the restored model, but a reverted CreateModel leaves none.
    state = revert.current if isinstance(operation, CreateModel) else revert.restored
    try:
        model = revert.model(state, model_name)
    except LookupError:
        return []
    if not revert.allowed(model):
        return []
    table = model._meta.db_table
    if isinstance(operation, CreateModel):
        return [effect(f"drops {table}", table, empties=True)]
    if isinstance(operation, DeleteModel):
        return [effect(f"re-creates {table} empty", table, empties=True)]
    if isinstance(operation, (RenameModel, AlterModelTable)):
        return [effect(f"renames a table back to {table}", table)]
    name = operation.old_name if isinstance(operation, RenameField) else operation.name
    field = _field(revert, name)
    through = field.remote_field.through._meta if field is not None and field.many_to_many else None
    if through is not None and through.auto_created:
        return [effect(f"drops or re-creates {through.db_table} empty", through.db_table, empties=True)]
    if field is None or field.many_to_many:
        return []
    verb = next(verb for kind, verb in _FIELD_VERBS if isinstance(operation, kind))  # subclasses too
    return [effect(f"{verb} {table}.{field.column}", table, field.column)]


def _field(revert: Revert, name: str) -> Any:
    """The field as the revert leaves it, or as it was before, for an added one."""
    operation = revert.operation
    for state in (revert.restored, revert.current):
        try:
            return revert.model(state, operation.model_name)._meta.get_field(name)
        except (LookupError, FieldDoesNotExist):
            continue
    return None


def _routed_here(revert: Revert) -> bool:
    """Whether the router lets this data operation run on the connection, as its ``database_backwards`` asks."""
    return bool(router.allow_migrate(revert.connection.alias, revert.app_label, **revert.operation.hints))


def sql_tables(sql: Any) -> list[str]:
    """The tables SQL names, lowercase; ``[ANY_TABLE]`` when a statement may touch tables it does not name."""
    tables: list[str] = []
    for statement in filter(None, (s.strip() for s in sql_text(sql).split(";"))):
        first = statement.split(None, 1)[0].lower()
        if first not in _NAMING_STATEMENTS:
            return [ANY_TABLE]
        tables += [name.lower() for name in _TABLE_NAMED.findall(statement)]
    return sorted(set(tables))
