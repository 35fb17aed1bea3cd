"""A database schema as comparable values, and its differences as a reviewer reads them.

``migtool verify`` must say whether a rollback gave back *exactly* the schema
of the release: not only the columns (which is all the executor's restore
check compares) but types, nullability, defaults, indexes, unique and check
constraints and foreign keys.  ``migtool.django_adapter.fingerprint`` fills a
``SchemaFingerprint`` from the backend's introspection; this module compares
two of them, pure and deterministic (sorted output), so every caller words a
difference the same way: ``leaves index shop_order_created_idx``, ``column
shop_item.price is numeric(10,2), was numeric(12,2)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Column:
    """One column: its type as the backend spells it, nullability, and default if reported."""

    table: str
    name: str
    type: str
    nullable: bool
    default: str | None = None


@dataclass(frozen=True, order=True)
class Constraint:
    """An index or constraint of one table.

    ``name`` is ``None`` when the backend invents it (SQLite's inline
    constraints and foreign keys): such names change when a table is rebuilt,
    so those are compared by content only.  ``kind`` is one of ``primary key``,
    ``unique constraint``, ``check constraint``, ``foreign key``, ``index``,
    ``unique index``; ``detail`` holds what else defines it (index type and
    column orders, check clause where reported).
    """

    table: str
    name: str | None
    kind: str
    columns: tuple[str, ...]
    references: str | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.name is not None:
            return f"{self.kind} {self.name}"
        columns = ", ".join(self.columns)
        target = f" -> {self.references}" if self.references else ""
        return f"{self.kind} on {self.table}({columns}){target}"

    def shape(self) -> str:
        """What the constraint is, without its name."""
        columns = ", ".join(self.columns)
        target = f" -> {self.references}" if self.references else ""
        detail = f" [{self.detail}]" if self.detail else ""
        return f"{self.kind} on {self.table}({columns}){target}{detail}"


@dataclass(frozen=True)
class SchemaFingerprint:
    """Every table's columns and constraints; equal fingerprints mean the same schema."""

    columns: frozenset[Column]
    constraints: frozenset[Constraint]

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(c.table for c in self.columns)


def schema_differences(expected: SchemaFingerprint, actual: SchemaFingerprint, *, missing: str) -> list[str]:
    """Return what ``actual`` has that ``expected`` lacks and the reverse, one phrase each.

    Extra objects are worded ``leaves ...``; absent ones ``{missing} ...`` (the
    caller's verb, e.g. ``does not restore``); changed columns and named
    constraints ``column t.c is X, was Y`` (``was`` is ``expected``).  Columns
    of a table that is extra or absent as a whole are not listed again.
    """
    found: list[str] = []
    extra_tables = sorted(actual.tables - expected.tables)
    gone_tables = sorted(expected.tables - actual.tables)
    found += [f"leaves table {t}" for t in extra_tables]
    found += [f"{missing} table {t}" for t in gone_tables]
    whole = set(extra_tables) | set(gone_tables)
    found += _column_differences(expected, actual, whole, missing)
    found += _constraint_differences(expected, actual, whole, missing)
    return found


def _column_differences(
    expected: SchemaFingerprint, actual: SchemaFingerprint, whole: set[str], missing: str
) -> list[str]:
    before = {(c.table, c.name): c for c in expected.columns if c.table not in whole}
    after = {(c.table, c.name): c for c in actual.columns if c.table not in whole}
    found = [f"leaves column {t}.{n}" for t, n in sorted(after.keys() - before.keys())]
    found += [f"{missing} column {t}.{n}" for t, n in sorted(before.keys() - after.keys())]
    for key in sorted(before.keys() & after.keys()):
        was, now = before[key], after[key]
        where = f"column {key[0]}.{key[1]}"
        if was.type != now.type:
            found.append(f"{where} is {now.type}, was {was.type}")
        if was.nullable != now.nullable:
            found.append(f"{where} is {_null(now.nullable)}, was {_null(was.nullable)}")
        if was.default != now.default:
            found.append(f"{where} has default {_default(now.default)}, was {_default(was.default)}")
    return found


def _constraint_differences(
    expected: SchemaFingerprint, actual: SchemaFingerprint, whole: set[str], missing: str
) -> list[str]:
    before = {c for c in expected.constraints if c.table not in whole}
    after = {c for c in actual.constraints if c.table not in whole}
    named_before = {(c.table, c.name): c for c in before if c.name is not None}
    named_after = {(c.table, c.name): c for c in after if c.name is not None}
    found = []
    for key in sorted(named_before.keys() & named_after.keys(), key=str):
        was, now = named_before[key], named_after[key]
        if was != now:
            found.append(f"{now.kind} {now.name} is {now.shape()}, was {was.shape()}")
    changed = {key for key in named_before.keys() & named_after.keys() if named_before[key] != named_after[key]}
    gone = [c for c in before - after if (c.table, c.name) not in changed]
    extra = [c for c in after - before if (c.table, c.name) not in changed]
    found += [f"leaves {c.describe()}" for c in sorted(extra, key=Constraint.shape)]
    found += [f"{missing} {c.describe()}" for c in sorted(gone, key=Constraint.shape)]
    return found


def _null(nullable: bool) -> str:
    return "NULL" if nullable else "NOT NULL"


def _default(value: str | None) -> str:
    return "none" if value is None else value
