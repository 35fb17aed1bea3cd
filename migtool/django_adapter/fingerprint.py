"""Take a ``SchemaFingerprint`` of a database from the backend's own introspection.

``verify`` compares the schema after every rehearsed rollback with the schema
of the release it went back to; anything else that must tell "the same
schema" from "almost" can use ``take_fingerprint`` too.  Columns come from
one catalogue query per backend (the type as the backend spells it, e.g.
``numeric(10,2)`` or ``varchar(10)``, nullability, and the default where the
backend stores one); indexes and constraints from Django's
``introspection.get_constraints``, which every backend implements, with the
clause of each check constraint where the catalogue keeps it (PostgreSQL,
MariaDB, MySQL; on SQLite checks are compared by name and columns).
migtool's own journal tables are left out: they record the runs, they are
not the project's schema.  Read-only.
"""

from __future__ import annotations

from typing import Any

from migtool.core.schema import Column, Constraint, SchemaFingerprint

JOURNAL_PREFIX = "migtool_run"

_COLUMNS_SQL = {
    "sqlite": 'SELECT m.name, p.name, p.type, NOT p."notnull", p.dflt_value '
    "FROM sqlite_master m, pragma_table_info(m.name) p "
    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    "postgresql": "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
    "CASE WHEN a.attidentity <> '' THEN 'identity' ELSE pg_get_expr(d.adbin, d.adrelid) END "
    "FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid "
    "JOIN pg_namespace n ON c.relnamespace = n.oid "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped",
    "mysql": "SELECT c.table_name, c.column_name, c.column_type, c.is_nullable = 'YES', "
    "CASE WHEN c.extra LIKE '%auto_increment%' THEN 'auto_increment' ELSE c.column_default END "
    "FROM information_schema.columns c JOIN information_schema.tables t "
    "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
    "WHERE c.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'",
}

_CHECKS_SQL = {
    "postgresql": "SELECT cl.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "JOIN pg_class cl ON c.conrelid = cl.oid JOIN pg_namespace n ON cl.relnamespace = n.oid "
    "WHERE c.contype = 'c' AND n.nspname = current_schema()",
    "mariadb": "SELECT table_name, constraint_name, check_clause FROM information_schema.check_constraints "
    "WHERE constraint_schema = DATABASE()",
    "mysql": "SELECT t.table_name, c.constraint_name, c.check_clause FROM information_schema.check_constraints c "
    "JOIN information_schema.table_constraints t ON t.constraint_schema = c.constraint_schema "
    "AND t.constraint_name = c.constraint_name AND t.constraint_type = 'CHECK' "
    "WHERE c.constraint_schema = DATABASE()",
}

# Names Django's introspection makes up rather than reads from the schema (see Constraint.name).
_INVENTED_NAMES = {"sqlite": ("__primary__", "__unnamed_constraint_", "fk_"), "mysql": ("__unnamed_constraint_",)}


def take_fingerprint(connection: Any) -> SchemaFingerprint:
    """Return every table's columns, indexes and constraints (journal tables excepted)."""
    with connection.cursor() as cursor:
        cursor.execute(_COLUMNS_SQL[connection.vendor])
        columns = frozenset(
            Column(str(t), str(n), str(kind), bool(null), None if default is None else str(default))
            for t, n, kind, null, default in cursor.fetchall()
            if not str(t).startswith(JOURNAL_PREFIX)
        )
        checks = _check_clauses(connection, cursor)
        constraints = frozenset(
            _constraint(connection, table, name, info, checks)
            for table in sorted({c.table for c in columns})
            for name, info in connection.introspection.get_constraints(cursor, table).items()
        )
    return SchemaFingerprint(columns, constraints)


def _check_clauses(connection: Any, cursor: Any) -> dict[tuple[str, str], str]:
    """``(table, constraint name) -> clause`` of every check constraint the catalogue describes."""
    flavour = "mariadb" if getattr(connection, "mysql_is_mariadb", False) else connection.vendor
    if flavour not in _CHECKS_SQL:
        return {}
    cursor.execute(_CHECKS_SQL[flavour])
    return {(str(table), str(name)): str(clause) for table, name, clause in cursor.fetchall()}


def _constraint(
    connection: Any, table: str, name: str, info: dict[str, Any], checks: dict[tuple[str, str], str]
) -> Constraint:
    invented = name.startswith(_INVENTED_NAMES.get(connection.vendor, ()))
    if info.get("primary_key"):
        kind = "primary key"
    elif info.get("foreign_key"):
        kind = "foreign key"
    elif info.get("check"):
        kind = "check constraint"
    elif info.get("index"):
        kind = "unique index" if info.get("unique") else "index"
    else:
        kind = "unique constraint"
    references = ".".join(info["foreign_key"]) if info.get("foreign_key") else None
    detail = ""
    if kind in ("index", "unique index"):
        orders = [o for o in info.get("orders") or [] if o]
        parts = [str(info.get("type") or "")]
        if any(o != "ASC" for o in orders):
            parts.append(" ".join(orders))
        if info.get("definition"):
            parts.append(str(info["definition"]))
        detail = " ".join(p for p in parts if p)
    elif kind == "check constraint":
        # MariaDB names an inline check after its column; Django's introspection renames it.
        columns = list(info.get("columns") or ())
        original = columns[0] if invented and len(columns) == 1 else name
        detail = checks.get((table, original), "")
    return Constraint(
        table=table,
        name=None if invented else name,
        kind=kind,
        columns=tuple(str(c) for c in info.get("columns") or ()),
        references=references,
        detail=detail,
    )
