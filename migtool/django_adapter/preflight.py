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
column that does not exist (yet) counts as empty.  The checks see the data as
it is now, not as earlier steps of the same plan may leave it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, router, transaction
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
from django.db.models import UniqueConstraint

from migtool.core.graph import MigrationKey
from migtool.core.safety import StepCheck
from migtool.django_adapter.operation_facts import (
    callable_name,
    irreversibility,
    is_atomic,
    sql_snippet,
)
from migtool.django_adapter.plans import Prepared

_INTEGER_TYPES = frozenset(
    {
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
_TEXT_TYPES = frozenset({"CharField", "TextField", "SlugField"})
# "Is not a whole number", per backend; SQLite keeps such text in an INTEGER column.
_NOT_INTEGER_SQL = {"postgresql": "{col} !~ %s", "mysql": "{col} NOT REGEXP %s"}
_INTEGER_PATTERN = "^-?[0-9]+$"


def check_steps(connection: Any, prepared: Prepared) -> list[StepCheck]:
    """Return one ``StepCheck`` per migration of ``prepared``, in plan order.

    Replays the history without rendering the project: each operation's
    checks render only the models they read (``_excerpt``), so checking a plan
    costs about what planning it does, whatever the size of the project.
    Runs SELECTs only.
    """
    probe = _Probe(connection)
    checks = {
        migration: _check_migration(probe, migration, _steps(migration.app_label, migration.operations, state))
        for migration, state in prepared.replay()
    }
    return [checks[m] for m in prepared.migrations]


def _check_migration(probe: _Probe, migration: Any, steps: list[tuple]) -> StepCheck:
    effects: list[str] = []
    blockers: list[str] = []
    data_loss: list[str] = []
    for operation, restored, current, inside in reversed(steps):  # reverts run newest first
        revert = _Revert(probe, migration.app_label, operation, restored, current, inside)
        effect = _check_operation(revert)
        effects.append(effect + "".join(f" ({note})" for note in revert.notes))
        blockers += revert.blockers
        data_loss += revert.data_loss
    if not steps:
        parents = [dep for dep in migration.dependencies if dep[0] == migration.app_label]
        effects.append("merge (no operations)" if len(parents) > 1 else "no operations")
    return StepCheck(
        key=MigrationKey(migration.app_label, migration.name),
        effects=tuple(effects),
        blockers=tuple(blockers),
        data_loss=tuple(data_loss),
        atomic=is_atomic(migration, [step[0] for step in steps]),
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
        field = operation.name if isinstance(operation, _FIELD_OPERATIONS) else None
        restored = _excerpt(state, model, field)
        operation.state_forwards(app_label, state)
        steps.append((operation, restored, _excerpt(state, model, field), inside))
    return steps


# Field operations whose checks read one field of the model; options that name fields.
_FIELD_OPERATIONS = (AddField, RemoveField, AlterField)
_FIELD_OPTIONS = frozenset({"unique_together", "index_together", "indexes", "constraints", "order_with_respect_to"})


def _excerpt(state: Any, model: tuple[str, str] | None, field: str | None = None) -> Any:
    """The part of ``state`` that rendering ``model`` needs: the model and, transitively,
    the models its fields and bases refer to.

    Rendering the whole project state is what made checks slow on large
    projects (django-migrations.md §5.3); the models an operation does not
    reach cannot change what its revert does to its own table.  With
    ``field``, the model itself keeps only that field and its primary key:
    rendering costs per field, and one field's column, type and table do not
    depend on its siblings.
    """
    from django.db.migrations.state import ProjectState
    from django.db.migrations.utils import resolve_relation

    found: dict[tuple[str, str], Any] = {}
    todo = [model] if model else []
    while todo:
        key = todo.pop()
        if key in found or key not in state.models:
            continue
        # Copies: later operations change the replayed state's model states in place.
        found[key] = model_state = (
            _trimmed(state.models[key], field) if field and key == model else state.models[key].clone()
        )
        for model_field in model_state.fields.values():
            remote = model_field.remote_field
            if remote is not None:
                todo.append(resolve_relation(remote.model, *key))
                if isinstance(getattr(remote, "through", None), str):
                    todo.append(resolve_relation(remote.through, *key))
        todo += [resolve_relation(base, *key) for base in model_state.bases if isinstance(base, str)]
    return ProjectState(models=found, real_apps=state.real_apps)


def _trimmed(model_state: Any, field: str) -> Any:
    """A copy of ``model_state`` with only ``field``, the primary key (and the fields a
    composite key names), and none of the options that name the dropped fields."""
    from django.db.migrations.state import ModelState

    keys = [name for name, f in model_state.fields.items() if getattr(f, "primary_key", False)]
    kept = {field, *keys, *(name for key in keys for name in getattr(model_state.fields[key], "field_names", ()))}
    return ModelState(
        model_state.app_label,
        model_state.name,
        {name: f for name, f in model_state.fields.items() if name in kept},
        {option: value for option, value in model_state.options.items() if option not in _FIELD_OPTIONS},
        model_state.bases,
        list(model_state.managers),
    )


# --------------------------------------------------------------------------- probing


class _Probe:
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
class _Revert:
    """One operation to revert: from ``current`` (the state after it) back to ``restored``.

    Handlers record what they find in ``notes`` (appended to the effect),
    ``blockers`` and ``data_loss``.
    """

    probe: _Probe
    app_label: str
    operation: Any
    restored: Any
    current: Any
    inside: str = ""
    notes: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    data_loss: list[str] = field(default_factory=list)
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
        """``SELECT COUNT(*)``-style probe; 0 if the table or a column is missing, None if it failed."""
        try:
            if not self.probe.exists(table, columns):
                return 0
            return self.probe.scalar(sql, params)
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.notes.append(f"could not check {what}: {first_line}")
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


# --------------------------------------------------------------------------- dispatch


def _check_operation(revert: _Revert) -> str:
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


def _irreversible(revert: _Revert) -> str | None:
    """Block operations Django cannot revert; return their effect phrase, else None."""
    found = irreversibility(revert.operation, revert.inside)
    if found is None:
        return None
    what, reason = found
    revert.blockers.append(f"{what} {reason}, so it cannot be reverted.")
    return f"cannot revert {what}"


def _create_model(revert: _Revert) -> str:
    model = revert.model(revert.current, revert.operation.name)
    if not revert.allowed(model):
        return revert.skipped()
    tables = [model._meta.db_table]
    tables += [t for t in map(_m2m_table, model._meta.local_many_to_many) if t]
    for table in tables:
        revert.data_loss.append(f"drops table {table} ({_rows_text(revert.rows(table))})")
    return f"drop table {', '.join(tables)}"


def _delete_model(revert: _Revert) -> str:
    model = revert.model(revert.restored, revert.operation.name)
    if not revert.allowed(model):
        return revert.skipped()
    return f"recreate table {model._meta.db_table} (comes back empty)"


def _add_field(revert: _Revert) -> str:
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
    held = "count unknown" if filled is None else f"{_plural(filled, 'row')} with a non-NULL value"
    if filled and added.get_internal_type() in _TEXT_TYPES:
        written = revert.rows(table, f"{quoted} IS NOT NULL AND {quoted} <> ''", [added.column])
        held = f"{_plural(filled, 'row')} (all empty)" if written == 0 else held
    revert.data_loss.append(f"drops column {table}.{added.column} ({held})")
    return f"drop column {table}.{added.column}"


def _remove_field(revert: _Revert) -> str:
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
        contents = "comes back empty" if removed.null else "comes back holding its default"
        return f"re-add column {where} ({contents})"
    if revert.connection.vendor == "mysql" and _mysql_fills(removed):
        return f"re-add column {where} (comes back holding MySQL's implicit default, such as 0 or '')"
    rows = revert.rows(table)
    if rows:
        revert.blockers.append(
            f"Reverting re-adds {where} as NOT NULL without a default, but {table} has {_plural(rows, 'row')} to fill."
        )
    return f"re-add column {where} (comes back empty)"


def _alter_field(revert: _Revert) -> str:
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
        for check in (_restores_not_null, _restores_max_length, _restores_unique, _restores_type)
        if (part := check(revert, table, now, back))
    ]
    where = f"{table}.{now.column}"
    if restored_parts:
        return f"restore {', '.join(restored_parts)} on {where}"
    return f"restore previous definition of {where}"


def _restores_not_null(revert: _Revert, table: str, now: Any, back: Any) -> str | None:
    if not (now.null and not back.null):
        return None
    column = now.column
    nulls = revert.rows(table, f"{revert.probe.quote(column)} IS NULL", [column])
    if nulls and _fills_nulls(revert.connection, back):
        revert.notes.append(f"{_plural(nulls, 'NULL value')} will be set to the default")
    elif nulls:
        revert.blockers.append(
            f"Reverting restores NOT NULL on {table}.{column}, but the column is NULL in {_plural(nulls, 'row')}."
        )
    return "NOT NULL"


def _restores_max_length(revert: _Revert, table: str, now: Any, back: Any) -> str | None:
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
        revert.notes.append(f"SQLite does not enforce max_length; {_plural(longer, 'value')} longer than {limit} kept")
    elif longer:
        revert.blockers.append(
            f"Reverting shrinks {table}.{column} back to max_length {limit}, "
            f"but the column holds {_plural(longer, 'value')} longer than {limit} characters."
        )
    return f"max_length {limit}"


def _restores_unique(revert: _Revert, table: str, now: Any, back: Any) -> str | None:
    if not (back.unique and not now.unique) or back.primary_key:
        return None
    duplicated = revert.duplicates(table, [now.column])
    if duplicated:
        revert.blockers.append(
            f"Reverting restores UNIQUE on {table}.{now.column}, "
            f"but the column has {_plural(duplicated, 'duplicated value')}."
        )
    return "UNIQUE"


def _restores_type(revert: _Revert, table: str, now: Any, back: Any) -> str | None:
    """Another column type comes back; text turning back into integers is checked on PostgreSQL/MySQL."""
    if back.get_internal_type() == now.get_internal_type():
        return None
    db_type = back.db_type(revert.connection)
    condition = _NOT_INTEGER_SQL.get(revert.connection.vendor)
    narrowing = back.get_internal_type() in _INTEGER_TYPES and now.get_internal_type() in _TEXT_TYPES
    if narrowing and condition:
        column = now.column
        quote = revert.probe.quote
        sql = f"SELECT COUNT(*) FROM {quote(table)} WHERE " + condition.format(col=quote(column))
        bad = revert.count(f"values in {table}.{column}", table, [column], sql, [_INTEGER_PATTERN])
        if bad:
            revert.blockers.append(
                f"Reverting turns {table}.{column} back into {db_type}, "
                f"but the column holds {_plural(bad, 'non-integer value')}."
            )
    return f"type {db_type}"


def _alter_unique_together(revert: _Revert) -> str:
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
                f"but {_plural(duplicated, 'combination')} of ({', '.join(columns)}) "
                "occur in more than one row."
            )
    if back:
        return f"restore unique_together {', '.join('(' + ', '.join(n) + ')' for n in back)} on {table}"
    return f"relax unique_together on {table}"


def _remove_constraint(revert: _Revert) -> str:
    operation = revert.operation
    restored_model = revert.model(revert.restored, operation.model_name)
    if not revert.allowed(restored_model):
        return revert.skipped()
    table = revert.model(revert.current, operation.model_name)._meta.db_table
    constraint = revert.model_state(revert.restored, operation.model_name_lower).get_constraint_by_name(operation.name)
    if not isinstance(constraint, UniqueConstraint):
        revert.notes.append("existing rows not checked against it")
    elif not constraint.fields or constraint.condition is not None:
        revert.notes.append("conditional or expression constraint: existing rows not checked")
    else:
        current_model = revert.model(revert.current, operation.model_name)
        columns = [current_model._meta.get_field(n).column for n in constraint.fields]
        nulls_distinct = getattr(constraint, "nulls_distinct", None) is not False  # Django 5.0+
        duplicated = revert.duplicates(table, columns, nulls_distinct)
        if duplicated:
            revert.blockers.append(
                f"Reverting re-adds unique constraint {operation.name} on {table}, "
                f"but {_plural(duplicated, 'combination')} of ({', '.join(columns)}) "
                "occur in more than one row."
            )
    return f"re-add constraint {operation.name} on {table}"


def _run_python(revert: _Revert) -> str:
    operation = revert.operation
    code = callable_name(operation.code)
    if not router.allow_migrate(revert.connection.alias, revert.app_label, **operation.hints):
        return f"skip RunPython {code} (not migrated on this database)"
    if operation.reverse_code is RunPython.noop:
        return f"no-op (RunPython.noop; data changes of {code} stay)"
    return f"run reverse of RunPython {code} ({callable_name(operation.reverse_code)})"


def _run_sql(revert: _Revert) -> str:
    operation = revert.operation
    if not router.allow_migrate(revert.connection.alias, revert.app_label, **operation.hints):
        return f"skip RunSQL ({sql_snippet(operation.sql)}) (not migrated on this database)"
    if not operation.reverse_sql:
        return f"no-op (RunSQL.noop; changes of {sql_snippet(operation.sql)} stay)"
    return f"run reverse SQL ({sql_snippet(operation.reverse_sql)})"


def _state_only(revert: _Revert) -> str:
    return "no database change (SeparateDatabaseAndState without database operations)"


# First match wins: subclasses (e.g. third-party AddField variants) share their base's handler.
_HANDLERS: tuple[tuple[type, Callable[[_Revert], str]], ...] = (
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


def _mysql_fills(field: Any) -> bool:
    """MySQL/MariaDB give existing rows of a new NOT NULL column the type's implicit default.

    ``ADD COLUMN n integer NOT NULL`` fills 0 (or '') even in strict mode,
    instead of failing.  Not for foreign keys (adding the constraint then fails
    on the 0s) nor dates (a zero date, refused under NO_ZERO_DATE).
    """
    return field.remote_field is None and field.get_internal_type() not in {"DateField", "DateTimeField"}


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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _rows_text(count: int | None) -> str:
    return "row count unknown" if count is None else _plural(count, "row")
