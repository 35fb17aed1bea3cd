"""What reverting each kind of operation does, and what in today's data stops it.

One handler per operation class (``HANDLERS``, first match wins), each
returning the effect phrase of the revert and recording blockers, notes and
data loss on the ``Revert`` it is given.  The queries are read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import router
from django.db.migrations.operations import (
    AddConstraint,
    AddField,
    AddIndex,
    AlterField,
    AlterUniqueTogether,
    CreateModel,
    DeleteModel,
    RemoveConstraint,
    RemoveField,
    RunPython,
    RunSQL,
    SeparateDatabaseAndState,
)

from migtool.core.safety import plural
from migtool.django_adapter.backend_facts import DATE_TYPES, facts, implicit_default_refused
from migtool.django_adapter.constraint_checks import (
    constraint_restored,
    restores_foreign_key,
    unique_over_one_value,
)
from migtool.django_adapter.data_probe import Revert
from migtool.django_adapter.dependent_views import views_reading
from migtool.django_adapter.narrowing_checks import (
    INTEGER_TYPES,
    restores_date,
    restores_decimal_digits,
    restores_integer_range,
)
from migtool.django_adapter.operation_facts import (
    callable_name,
    irreversibility,
    sql_snippet,
)

_TEXT_TYPES = frozenset({"CharField", "TextField", "SlugField"})
# "Is not a whole number", per backend; SQLite keeps such text in an INTEGER column.
_NOT_INTEGER_SQL = {"postgresql": "{col} !~ %s", "mysql": "{col} NOT REGEXP %s"}
_INTEGER_PATTERN = "^-?[0-9]+$"


def check_operation(revert: Revert) -> str:
    """Return the effect phrase of reverting one operation; record blockers and data loss."""
    irreversible = _irreversible(revert)
    if irreversible:
        return irreversible
    operation = revert.operation
    for kind, handler in _HANDLERS:
        if isinstance(operation, kind):
            return handler(revert)
    if isinstance(operation, AddIndex):
        return f"drop index {operation.index.name} on {operation.model_name}"
    if isinstance(operation, AddConstraint):
        return f"drop constraint {operation.constraint.name} on {operation.model_name}"
    return f"revert: {operation.describe()}"


def _irreversible(revert: Revert) -> str | None:
    """Block operations Django cannot revert; return their effect phrase, else None."""
    found = irreversibility(revert.operation, revert.inside)
    if found is None:
        return None
    what, reason = found
    revert.blockers.append(f"{what} {reason}, so it cannot be reverted.")
    return f"cannot revert {what}"


def _create_model(revert: Revert) -> str:
    model = revert.model(revert.current, revert.operation.name)
    if not revert.allowed(model):
        return revert.skipped()
    tables = [model._meta.db_table]
    tables += [t for t in map(_m2m_table, model._meta.local_many_to_many) if t]
    for table in tables:
        revert.data_loss.append(f"drops table {table} ({_rows_text(revert.rows(table))})")
        views_reading(revert, table)
    return f"drop table {', '.join(tables)}"


def _delete_model(revert: Revert) -> str:
    model = revert.model(revert.restored, revert.operation.name)
    if not revert.allowed(model):
        return revert.skipped()
    return f"recreate table {model._meta.db_table} (comes back empty)"


def _add_field(revert: Revert) -> str:
    model = revert.model(revert.current, revert.operation.model_name)
    if not revert.allowed(model):
        return revert.skipped()
    added = model._meta.get_field(revert.operation.name)
    table = model._meta.db_table
    through = _m2m_table(added)
    if through:
        revert.data_loss.append(f"drops table {through} ({_rows_text(revert.rows(through))})")
        return f"drop table {through}"
    if not _has_column(revert.connection, added):
        return f"revert: {revert.operation.describe()} (no column)"
    quoted = revert.probe.quote(added.column)
    filled = revert.rows(table, f"{quoted} IS NOT NULL", [added.column])
    held = "count unknown" if filled is None else f"{plural(filled, 'row')} with a non-NULL value"
    if filled and added.get_internal_type() in _TEXT_TYPES:
        written = revert.rows(table, f"{quoted} IS NOT NULL AND {quoted} <> ''", [added.column])
        held = f"{plural(filled, 'row')} (all empty)" if written == 0 else held
    revert.data_loss.append(f"drops column {table}.{added.column} ({held})")
    views_reading(revert, table, added.column)
    return f"drop column {table}.{added.column}"


def _remove_field(revert: Revert) -> str:
    restored_model = revert.model(revert.restored, revert.operation.model_name)
    if not revert.allowed(restored_model):
        return revert.skipped()
    removed = restored_model._meta.get_field(revert.operation.name)
    table = revert.model(revert.current, revert.operation.model_name)._meta.db_table
    through = _m2m_table(removed)
    if through:
        return f"recreate table {through} (comes back empty)"
    if not _has_column(revert.connection, removed):
        return f"revert: {revert.operation.describe()} (no column)"
    where = f"{table}.{removed.column}"
    if removed.null or not _needs_fill(revert.connection, removed):
        if not (removed.null or _has_db_default(removed)):
            unique_over_one_value(revert, table, removed)
        contents = "comes back empty" if removed.null else "comes back holding its default"
        return f"re-add column {where} ({contents})"
    known = facts(revert.connection)
    implicit = bool(known and known.implicit_not_null_default)  # MariaDB/MySQL fill the rows themselves
    refused = implicit_default_refused(revert.connection, removed) if implicit else None
    if implicit and refused is None:
        unique_over_one_value(revert, table, removed)
        zero = "a zero date" if removed.get_internal_type() in DATE_TYPES else "0 or ''"
        return f"re-add column {where} (comes back holding MySQL's implicit default, such as {zero})"
    rows = revert.rows(table)
    if rows:
        why = f": {refused}" if refused else ""
        revert.blockers.append(
            f"Reverting re-adds {where} as NOT NULL without a default, but {table} has {plural(rows, 'row')} "
            f"to fill{why}."
        )
    return f"re-add column {where} (comes back empty)"


def _alter_field(revert: Revert) -> str:
    """Reverting alters the current field back to the restored one: check what that tightens."""
    name = revert.operation.model_name
    current_model = revert.model(revert.current, name)
    restored_model = revert.model(revert.restored, name)
    if not revert.allowed(restored_model):
        return revert.skipped()
    now = current_model._meta.get_field(revert.operation.name)
    back = restored_model._meta.get_field(revert.operation.name)
    if not (_has_column(revert.connection, now) and _has_column(revert.connection, back)):
        return f"revert: {revert.operation.describe()}"
    table = current_model._meta.db_table
    restored_parts = [
        part
        for check in (
            _restores_not_null,
            _restores_max_length,
            _restores_unique,
            _restores_type,
            restores_integer_range,
            restores_decimal_digits,
            restores_date,
            restores_foreign_key,
        )
        if (part := check(revert, table, now, back))
    ]
    where = f"{table}.{now.column}"
    if restored_parts:
        return f"restore {', '.join(restored_parts)} on {where}"
    return f"restore previous definition of {where}"


def _restores_not_null(revert: Revert, table: str, now: Any, back: Any) -> str | None:
    if not (now.null and not back.null):
        return None
    column = now.column
    nulls = revert.rows(table, f"{revert.probe.quote(column)} IS NULL", [column])
    if nulls and _fills_nulls(revert.connection, back):
        revert.notes.append(f"{plural(nulls, 'NULL value')} will be set to the default")
    elif nulls:
        revert.blockers.append(
            f"Reverting restores NOT NULL on {table}.{column}, but the column is NULL in {plural(nulls, 'row')}."
        )
    return "NOT NULL"


def _restores_max_length(revert: Revert, table: str, now: Any, back: Any) -> str | None:
    """A shorter ``max_length`` comes back; PostgreSQL and MySQL refuse longer values, SQLite keeps them."""
    limit = back.max_length
    enforced = isinstance(limit, int) and f"({limit})" in (back.db_type(revert.connection) or "")
    wider = (isinstance(now.max_length, int) and now.max_length > (limit or 0)) or (
        now.max_length is None and now.get_internal_type() == "TextField"
    )
    if not (enforced and wider):
        return None
    column = now.column
    length = "CHAR_LENGTH" if revert.connection.vendor == "mysql" else "LENGTH"
    quote = revert.probe.quote
    sql = f"SELECT COUNT(*) FROM {quote(table)} WHERE {length}({quote(column)}) > %s"
    longer = revert.count(f"lengths in {table}.{column}", table, [column], sql, [limit])
    if longer and revert.connection.vendor == "sqlite":
        revert.notes.append(f"SQLite does not enforce max_length; {plural(longer, 'value')} longer than {limit} kept")
    elif longer:
        revert.blockers.append(
            f"Reverting shrinks {table}.{column} back to max_length {limit}, "
            f"but the column holds {plural(longer, 'value')} longer than {limit} characters."
        )
    return f"max_length {limit}"


def _restores_unique(revert: Revert, table: str, now: Any, back: Any) -> str | None:
    if not (back.unique and not now.unique) or back.primary_key:
        return None
    duplicated = revert.duplicates(table, [now.column])
    if duplicated:
        revert.blockers.append(
            f"Reverting restores UNIQUE on {table}.{now.column}, "
            f"but the column has {plural(duplicated, 'duplicated value')}."
        )
    return "UNIQUE"


def _restores_type(revert: Revert, table: str, now: Any, back: Any) -> str | None:
    """Another column type comes back; text turning back into integers is checked on PostgreSQL/MySQL."""
    if back.get_internal_type() == now.get_internal_type():
        return None
    db_type = back.db_type(revert.connection)
    condition = _NOT_INTEGER_SQL.get(revert.connection.vendor)
    narrowing = back.get_internal_type() in INTEGER_TYPES and now.get_internal_type() in _TEXT_TYPES
    if narrowing and condition:
        column = now.column
        quote = revert.probe.quote
        sql = f"SELECT COUNT(*) FROM {quote(table)} WHERE " + condition.format(col=quote(column))
        bad = revert.count(f"values in {table}.{column}", table, [column], sql, [_INTEGER_PATTERN])
        if bad:
            revert.blockers.append(
                f"Reverting turns {table}.{column} back into {db_type}, "
                f"but the column holds {plural(bad, 'non-integer value')}."
            )
    return f"type {db_type}"


def _alter_unique_together(revert: Revert) -> str:
    operation = revert.operation
    restored_model = revert.model(revert.restored, operation.name)
    if not revert.allowed(restored_model):
        return revert.skipped()
    current_model = revert.model(revert.current, operation.name)
    table = current_model._meta.db_table

    def together(state: Any) -> set[tuple[str, ...]]:
        options = revert.model_state(state, operation.name_lower).options
        return {tuple(names) for names in options.get("unique_together") or ()}

    back = sorted(together(revert.restored) - together(revert.current))
    for names in back:
        columns = [current_model._meta.get_field(n).column for n in names]
        duplicated = revert.duplicates(table, columns)
        if duplicated:
            revert.blockers.append(
                f"Reverting restores unique_together ({', '.join(names)}) on {table}, "
                f"but {plural(duplicated, 'combination')} of ({', '.join(columns)}) "
                "occur in more than one row."
            )
    if back:
        return f"restore unique_together {', '.join('(' + ', '.join(n) + ')' for n in back)} on {table}"
    return f"relax unique_together on {table}"


def _remove_constraint(revert: Revert) -> str:
    operation = revert.operation
    restored_model = revert.model(revert.restored, operation.model_name)
    if not revert.allowed(restored_model):
        return revert.skipped()
    table = revert.model(revert.current, operation.model_name)._meta.db_table
    constraint = revert.model_state(revert.restored, operation.model_name_lower).get_constraint_by_name(operation.name)
    constraint_restored(revert, restored_model, constraint)
    return f"re-add constraint {operation.name} on {table}"


def _run_python(revert: Revert) -> str:
    operation = revert.operation
    code = callable_name(operation.code)
    if not router.allow_migrate(revert.connection.alias, revert.app_label, **operation.hints):
        return f"skip RunPython {code} (not migrated on this database)"
    if operation.reverse_code is RunPython.noop:
        return f"no-op (RunPython.noop; data changes of {code} stay)"
    return f"run reverse of RunPython {code} ({callable_name(operation.reverse_code)})"


def _run_sql(revert: Revert) -> str:
    operation = revert.operation
    if not router.allow_migrate(revert.connection.alias, revert.app_label, **operation.hints):
        return f"skip RunSQL ({sql_snippet(operation.sql)}) (not migrated on this database)"
    if not operation.reverse_sql:
        return f"no-op (RunSQL.noop; changes of {sql_snippet(operation.sql)} stay)"
    return f"run reverse SQL ({sql_snippet(operation.reverse_sql)})"


def _state_only(revert: Revert) -> str:
    return "no database change (SeparateDatabaseAndState without database operations)"


# First match wins: subclasses (e.g. third-party AddField variants) share their base's handler.
_HANDLERS: tuple[tuple[type, Callable[[Revert], str]], ...] = (
    (CreateModel, _create_model),
    (DeleteModel, _delete_model),
    (AddField, _add_field),
    (RemoveField, _remove_field),
    (AlterField, _alter_field),
    (AlterUniqueTogether, _alter_unique_together),
    (RemoveConstraint, _remove_constraint),
    (RunPython, _run_python),
    (RunSQL, _run_sql),
    (SeparateDatabaseAndState, _state_only),
)


# --------------------------------------------------------------------------- helpers


def _m2m_table(field: Any) -> str | None:
    """The join table Django creates and drops together with a many-to-many field."""
    if field.many_to_many and field.remote_field.through._meta.auto_created:
        return str(field.remote_field.through._meta.db_table)
    return None


def _has_column(connection: Any, field: Any) -> bool:
    return not field.many_to_many and field.db_parameters(connection=connection)["type"] is not None


def _effective_default(connection: Any, field: Any) -> Any:
    """The value Django's schema editor writes into existing rows (``_effective_default``, 4.2–6.1)."""
    return connection.SchemaEditorClass._effective_default(field)


def _has_db_default(field: Any) -> bool:
    """``db_default`` (Django 5.0+): the database fills the column itself."""
    has_db_default = getattr(field, "has_db_default", None)
    return bool(has_db_default and has_db_default())


def _needs_fill(connection: Any, field: Any) -> bool:
    """Re-adding NOT NULL ``field`` gives existing rows nothing to hold (§3.1)."""
    return not (
        field.primary_key
        or getattr(field, "generated", False)  # Django 5.0+
        or _has_db_default(field)
        or _effective_default(connection, field) is not None
    )


def _fills_nulls(connection: Any, field: Any) -> bool:
    """Whether restoring NOT NULL on ``field`` rewrites NULLs instead of failing.

    ``BaseDatabaseSchemaEditor._alter_field`` updates NULL rows only when the
    field has a default (or ``db_default``); SQLite's table remake coalesces
    NULLs with the effective default, which also covers ``blank=True`` text.
    """
    if _has_db_default(field):
        return True
    default = _effective_default(connection, field)
    return default is not None and (field.has_default() or connection.vendor == "sqlite")


def _rows_text(count: int | None) -> str:
    return "row count unknown" if count is None else plural(count, "row")
