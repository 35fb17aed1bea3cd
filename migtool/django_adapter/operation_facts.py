"""What a migration's operations say on their own, without states or data.

Split from the pre-flight checks because three roles use it without a backwards
plan: ``doctor`` (irreversible and non-atomic migrations), ``migrate-safe``
(could a forward step be undone, can the batch be one transaction) and the
pre-flight itself (irreversible operations block a rollback).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db.migrations.operations import RunPython, RunSQL, SeparateDatabaseAndState
from django.db.migrations.operations.base import Operation

from migtool.core.doctor import MigrationFacts
from migtool.core.graph import MigrationKey
from migtool.core.safety import StepCheck

# Statements PostgreSQL refuses to run inside a transaction block.
_NON_ATOMIC_SQL = re.compile(r"\bCONCURRENTLY\b|\bVACUUM\b", re.IGNORECASE)


def irreversibility(operation: Any, inside: str = "") -> tuple[str, str] | None:
    """Return ``(what, why)`` if Django cannot revert ``operation``, else None.

    ``reversible`` alone misses two cases: inside ``SeparateDatabaseAndState``
    (which always says reversible, then raises ``NotImplementedError``), and a
    third-party operation that never overrode ``database_backwards``.
    """
    where = f" inside {inside}" if inside else ""
    if type(operation).database_backwards is Operation.database_backwards:
        return f"{type(operation).__name__}{where}", "does not implement database_backwards"
    if isinstance(operation, RunPython) and operation.reverse_code is None:
        return f"RunPython {callable_name(operation.code)}{where}", "has no reverse_code"
    if isinstance(operation, RunSQL) and operation.reverse_sql is None:
        return f"RunSQL ({sql_snippet(operation.sql)}){where}", "has no reverse_sql"
    if not operation.reversible:
        return f"Operation '{operation.describe()}'{where}", "is marked irreversible"
    return None


def migration_facts(migration: Any) -> MigrationFacts:
    """What a migration's operations say on their own, without states or data:
    irreversible operations, and whether it can run inside a transaction."""
    operations = database_operations(migration.operations)
    irreversible = [" ".join(found) for op, inside in operations if (found := irreversibility(op, inside))]
    outside = [
        f"{type(op).__name__} must run outside a transaction"
        for op, _ in operations
        if _declares_non_atomic(op) and not isinstance(op, RunPython)
    ] + [
        f"RunSQL ({sql_snippet(op.sql)}) uses CONCURRENTLY/VACUUM"
        for op, _ in operations
        if isinstance(op, RunSQL) and _NON_ATOMIC_SQL.search(sql_text(op.sql) + "\n" + sql_text(op.reverse_sql))
    ]
    return MigrationFacts(
        irreversible=tuple(irreversible),
        non_atomic=not migration.atomic,
        needs_no_transaction=tuple(outside),
    )


def undo_check(migration: Any) -> StepCheck:
    """Whether a migration about to be applied could be undone: its operations only.

    For a forward batch the data to check does not exist yet; irreversible
    operations and atomicity are what decide whether a failure can be undone.
    """
    operations = database_operations(migration.operations)
    return StepCheck(
        key=MigrationKey(migration.app_label, migration.name),
        effects=(),
        blockers=tuple(
            f"{what} {why}, so it cannot be reverted."
            for op, inside in operations
            if (found := irreversibility(op, inside))
            for what, why in [found]
        ),
        atomic=is_atomic(migration, [op for op, _ in operations]),
    )


def database_operations(operations: Sequence[Any], inside: str = "") -> list[tuple[Any, str]]:
    """Operations as they run against the database, ``SeparateDatabaseAndState`` opened."""
    found: list[tuple[Any, str]] = []
    for operation in operations:
        if isinstance(operation, SeparateDatabaseAndState) and operation.database_operations:
            found += database_operations(operation.database_operations, "SeparateDatabaseAndState")
        else:
            found.append((operation, inside))
    return found


def is_atomic(migration: Any, operations: Sequence[Any]) -> bool:
    """False when the step declares it must not run inside one transaction (§4.1)."""
    if not migration.atomic:
        return False
    for operation in operations:
        if _declares_non_atomic(operation):
            return False
        if isinstance(operation, RunSQL):
            sql = sql_text(operation.sql) + "\n" + sql_text(operation.reverse_sql)
            if _NON_ATOMIC_SQL.search(sql):
                return False
    return True


def _declares_non_atomic(operation: Any) -> bool:
    """``RunPython(atomic=False)``, or a class such as ``AddIndexConcurrently`` setting ``atomic = False``.

    ``Operation.atomic = False`` on the base class only means "not forced into
    a transaction on MySQL", so it is ignored.
    """
    if operation.atomic is not False:
        return False
    return "atomic" in vars(operation) or any(
        "atomic" in vars(cls) for cls in type(operation).__mro__ if cls is not Operation
    )


def sql_text(sql: Any) -> str:
    """RunSQL's ``sql``/``reverse_sql`` as text: a string, or a list of strings or (sql, params)."""
    if isinstance(sql, (list, tuple)):
        return "\n".join(item[0] if isinstance(item, (list, tuple)) else str(item) for item in sql)
    return str(sql or "")


def sql_snippet(sql: Any, width: int = 60) -> str:
    text = " ".join(sql_text(sql).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def callable_name(code: Any) -> str:
    return str(getattr(code, "__qualname__", None) or getattr(code, "__name__", None) or code)
