"""Constraints a revert brings back, counted against today's rows the way the database will.

Reverting ``RemoveConstraint`` re-adds a ``CheckConstraint`` or a
``UniqueConstraint``; reverting an ``AlterField`` can turn a plain integer back
into a ``ForeignKey`` or re-enable its ``db_constraint``; reverting a
``RemoveField`` can re-add a UNIQUE column holding one default in every row.  The database checks
every existing row when the constraint comes back, and the revert fails on the
first that violates it.  Each check here asks the same question first, with a
read-only ``SELECT COUNT(*)``.

The condition and the expressions are compiled through the historical model
of the state the revert restores, with the ``Query(model, alias_cols=False)``
Django's schema editor builds the constraint's own SQL from, so the count is
over exactly the rows the database would refuse: a CHECK fails where its
condition is false (not NULL), a unique index ignores rows with a NULL key
unless ``nulls_distinct=False``, a partial one only sees rows matching its
condition.  Constraints Django does not create on this backend (a conditional
unique constraint on MariaDB, ``nulls_distinct`` outside PostgreSQL 15+) block
nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CheckConstraint, UniqueConstraint
from django.db.models.expressions import OrderBy
from django.db.models.sql.query import Query

from migtool.core.safety import plural
from migtool.django_adapter.data_probe import Revert

# Django feature flag each option of a UniqueConstraint needs, as in the schema
# editor's _unique_supported (Django 5.0+; 4.2 inlines the same test).
_UNIQUE_FEATURES = (
    ("condition", "supports_partial_indexes"),
    ("deferrable", "supports_deferrable_unique_constraints"),
    ("include", "supports_covering_indexes"),
    ("expressions", "supports_expression_indexes"),
    ("nulls_distinct", "supports_nulls_distinct_unique_constraints"),  # Django 5.0+
)


def constraint_restored(revert: Revert, model: Any, constraint: Any) -> None:
    """Reverting ``RemoveConstraint``: ``constraint`` comes back on ``model``'s table (historical model)."""
    if isinstance(constraint, CheckConstraint):
        _check_restored(revert, model, constraint)
    elif isinstance(constraint, UniqueConstraint):
        _unique_restored(revert, model, constraint)
    else:
        revert.notes.append("existing rows not checked against it")


def _check_restored(revert: Revert, model: Any, constraint: Any) -> None:
    connection = revert.connection
    if not connection.features.supports_table_check_constraints:
        revert.notes.append("this database does not enforce CHECK constraints")
        return
    # ``condition`` since Django 5.1, ``check`` before; vars() avoids 5.x's deprecated alias.
    condition = vars(constraint).get("condition", vars(constraint).get("check"))
    where, params = _compiled_where(model, connection, condition)
    table = model._meta.db_table
    sql = f"SELECT COUNT(*) FROM {revert.probe.quote(table)} WHERE NOT ({where})"
    violating = revert.count(f"rows of {table} against {constraint.name}", table, [], sql, params)
    if violating:
        revert.blockers.append(
            f"Reverting re-adds check constraint {constraint.name} on {table}, "
            f"but {plural(violating, 'row')} {_verb(violating, 'violate')} it."
        )


def _unique_restored(revert: Revert, model: Any, constraint: Any) -> None:
    connection = revert.connection
    missing = [flag for option, flag in _UNIQUE_FEATURES if _uses(constraint, option)]
    unsupported = [flag for flag in missing if not getattr(connection.features, flag, False)]
    if unsupported:
        revert.notes.append(f"Django does not create it on this database ({unsupported[0]} is False)")
        return
    table = model._meta.db_table
    if constraint.expressions or constraint.condition is not None:
        duplicated = _compiled_duplicates(revert, model, constraint)
    else:
        columns = [model._meta.get_field(name).column for name in constraint.fields]
        duplicated = revert.duplicates(table, columns, getattr(constraint, "nulls_distinct", None) is not False)
    if duplicated:
        key = ", ".join(constraint.fields) or "its expressions"
        scope = " among the rows its condition selects" if constraint.condition is not None else ""
        revert.blockers.append(
            f"Reverting re-adds unique constraint {constraint.name} on {table}, "
            f"but {plural(duplicated, 'combination')} of ({key}) "
            f"{_verb(duplicated, 'occur')} in more than one row{scope}."
        )


def _compiled_duplicates(revert: Revert, model: Any, constraint: Any) -> int | None:
    """Duplicates under a conditional or expression unique index: its keys and condition compiled
    the way the schema editor compiles them, NULL keys skipped unless ``nulls_distinct=False``."""
    connection = revert.connection
    query = Query(model=model, alias_cols=False)
    compiler = query.get_compiler(connection=connection)
    quote = revert.probe.quote
    keys: list[tuple[str, list[Any]]] = [(quote(model._meta.get_field(name).column), []) for name in constraint.fields]
    for expression in constraint.expressions:
        if isinstance(expression, OrderBy):  # Lower("code").desc(): the order does not change what collides
            expression = expression.expression
        sql, params = compiler.compile(expression.resolve_expression(query, allow_joins=False))
        keys.append((sql, list(params)))
    conditions: list[tuple[str, list[Any]]] = []
    if constraint.condition is not None:
        conditions.append(_compiled_where(model, connection, constraint.condition))
    if getattr(constraint, "nulls_distinct", None) is not False:
        conditions += [(f"{sql} IS NOT NULL", params) for sql, params in keys]
    table = model._meta.db_table
    where = " AND ".join(f"({sql})" for sql, _ in conditions) or "1 = 1"
    sql = (
        f"SELECT COUNT(*) FROM (SELECT 1 AS one FROM {quote(table)} WHERE {where} "
        f"GROUP BY {', '.join(sql for sql, _ in keys)} HAVING COUNT(*) > 1) dup"
    )
    params = [p for _, ps in conditions for p in ps] + [p for _, ps in keys for p in ps]
    return revert.count(f"duplicates in {table} for {constraint.name}", table, [], sql, params)


def restores_foreign_key(revert: Revert, table: str, now: Any, back: Any) -> str | None:
    """Reverting ``AlterField`` brings a database foreign key back (from a plain
    column, or ``db_constraint=False``): today's orphaned values make adding it fail."""
    if not _enforced_foreign_key(back) or not revert.connection.features.supports_foreign_keys:
        return None
    parent = back.related_model._meta.db_table
    target = back.target_field.column
    if _enforced_foreign_key(now) and (now.related_model._meta.db_table, now.target_field.column) == (parent, target):
        return None
    quote = revert.probe.quote
    column = quote(now.column)
    sql = (
        f"SELECT COUNT(*) FROM {quote(table)} child WHERE child.{column} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {quote(parent)} parent WHERE parent.{quote(target)} = child.{column})"
    )
    orphans = revert.count(f"references from {table}.{now.column}", table, [now.column], sql)
    if orphans:
        revert.blockers.append(
            f"Reverting restores the foreign key {table}.{now.column} -> {parent}.{target}, "
            f"but {plural(orphans, 'row')} {_verb(orphans, 'hold')} a value that is not in {parent}."
        )
    return f"foreign key to {parent}"


def _verb(count: int, verb: str) -> str:
    return f"{verb}s" if count == 1 else verb


def unique_over_one_value(revert: Revert, table: str, field: Any) -> None:
    """Reverting ``RemoveField`` re-adds a UNIQUE column that every existing row gets the
    same value in (its default, or MariaDB's implicit one): two rows already collide."""
    if not field.unique or field.primary_key or getattr(field, "generated", False):  # generated: Django 5.0+
        return
    rows = revert.rows(table)
    if rows and rows > 1:
        revert.blockers.append(
            f"Reverting re-adds {table}.{field.column} as UNIQUE, but all {rows} rows of {table} get the same value."
        )


def _enforced_foreign_key(field: Any) -> bool:
    return bool(field.remote_field is not None and not field.many_to_many and field.db_constraint)


def _uses(constraint: Any, option: str) -> bool:
    value = getattr(constraint, option, None)
    return value is not None if option in {"condition", "deferrable", "nulls_distinct"} else bool(value)


def _compiled_where(model: Any, connection: Any, condition: Any) -> tuple[str, list[Any]]:
    """``condition`` as SQL, the way ``CheckConstraint``/``UniqueConstraint`` compile it into DDL."""
    query = Query(model=model, alias_cols=False)
    where = query.build_where(condition)
    sql, params = where.as_sql(query.get_compiler(connection=connection), connection)
    return sql, list(params)
