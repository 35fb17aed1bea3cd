"""The rollback fast path (issue 13) against stock Django, on every backend.

* SQL oracle: for random release cuts of a relation-heavy project
  (``relation_shapes``), the statements the fast path emits in collect mode
  are, in order, the ones Django's own ``MigrationExecutor.migrate`` emits for
  the same plan (``fast_path_driver``); the counts show the fast path ran and
  where it gave way.  ``rollback --sql`` prints the same with and without
  ``--no-fast-path`` (migtool's Django path).
* Execution oracle: on two copies of one migrated database, ``migtool rollback
  --yes`` and Django's ``manage.py migrate APP TARGET`` end with the same
  ``django_migrations`` rows and the same schema, columns in order included
  (SQLite re-adds a removed column by remaking its table).

One project per backend serves both, so each backend migrates it once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from projects import Database, Project, ProjectFactory, server_params
from relation_shapes import cut, name_of, relation_heavy

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "fast_path_driver.py"
# The hazard cut first (the first replay of the process sees hz's rename as written), then random ones.
CUTS = [{"lib": 6, "shop": 6, "crm": 0, "hz": 1}, *(cut(relation_heavy(), seed) for seed in range(1, 5))]
# lib.0005's AlterField of the field shop.Book follows by to_field is reverted too: SQLite remakes
# shop_book then, from the state Django replays, which must not hold shop's reverted migrations.
RELEASE = {"lib": 4, "shop": 1, "crm": 0, "hz": 1}


def _this_checkout(project: Project) -> Project:
    """Run the children against this checkout's migtool, whichever one is installed."""
    project.env["PYTHONPATH"] = os.pathsep.join([str(project.root), str(REPO)])
    return project


@pytest.mark.backends
def test_fast_path_emits_djangos_sql_and_reaches_djangos_schema(make_project: ProjectFactory, backend: str) -> None:
    apps = relation_heavy()
    project = _this_checkout(make_project({app: dict(list(m.items())[: RELEASE[app]]) for app, m in apps.items()}))
    frozen = project.migtool("freeze", "--release", "r1")
    assert frozen.code == 0, frozen
    for label, migrations in apps.items():
        for name, source in migrations.items():
            project.write_migration(label, name, source)
    migrated = project.manage("migrate")
    assert migrated.ok, migrated

    # SQL oracle, in collect mode on the migrated database.
    result = project.run([sys.executable, str(DRIVER)], input="".join(json.dumps(c) + "\n" for c in CUTS))
    assert result.ok, result
    plans = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(plans) == len(CUTS) and not any("skipped" in p for p in plans), plans
    for plan in plans:
        assert plan["fast"] == plan["django"], f"fast path differs for cut {plan['cut']}"
    # The hazard cut took Django's path whole; the others the fast path, but for RenameModel.
    assert plans[0]["counts"]["fast"] == 0 and plans[0]["counts"]["fallback"] > 0
    assert all(p["counts"]["fast"] > 0 for p in plans[1:])
    assert any(p["counts"]["fallback"] > 0 for p in plans[1:])
    assert sum(len(p["steps"]) for p in plans) > 80
    fast_sql = project.migtool("rollback", "r1", "--sql")
    assert fast_sql.ok, fast_sql
    slow_sql = project.migtool("rollback", "r1", "--sql", "--no-fast-path")
    assert slow_sql.stdout == fast_sql.stdout and "ALTER TABLE" in fast_sql.stdout, (fast_sql, slow_sql)

    # Execution oracle: migtool on the database, Django's migrate APP TARGET on a copy.
    django_db = _copy(project.db, make_project)
    fast = project.migtool("rollback", "r1", "--yes", "--format", "json")
    assert fast.ok, fast
    counts = json.loads(fast.stdout)["fast_path"]
    assert counts["fast"] > 0 and counts["fallback"] > 0, counts  # RunPython with reverse code, RenameModel
    project.db, original = django_db, project.db
    project.write_settings()
    for app in ("shop", "lib", "hz"):  # dependents first (crm goes with shop); each revert meets its tables
        migrated = project.manage("migrate", app, name_of(RELEASE[app]))
        assert migrated.ok, migrated
    assert original.applied() == django_db.applied()
    assert original.applied() == {(a, name_of(i)) for a, n in RELEASE.items() for i in range(1, n + 1)}
    mine, djangos = _fingerprint(original), _fingerprint(django_db)
    assert mine == djangos, ([r for r in mine if r not in djangos], [r for r in djangos if r not in mine])


def test_fast_path_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    from migtool.django_adapter.fast_path import DISABLING_ENV, requested

    for value, on in (("", True), ("0", True), ("1", False), ("yes", False)):
        monkeypatch.setenv(DISABLING_ENV, value)
        assert (requested(True), requested(False)) == (on, False), value
    monkeypatch.delenv(DISABLING_ENV)
    assert requested() is True


# Code the fast path copies (fast_path._FastMigration), as ast.unparse without docstring and
# comments hashes it; the same in Django 4.2, 5.2 and 6.1.
COPIED = {
    "django.db.migrations.migration.Migration.unapply": "e16a4dc0db954989",
    "django.db.migrations.operations.special.SeparateDatabaseAndState.database_backwards": "8c560cd02ddce429",
}


def test_copied_django_code_is_unchanged() -> None:
    """A Django release that changes what the fast path copies fails here, naming it:
    re-read it and update ``fast_path._FastMigration`` before the hash."""
    import ast
    import hashlib
    import importlib
    import inspect
    import textwrap

    changed = []
    for dotted, expected in COPIED.items():
        module, owner, name = dotted.rsplit(".", 2)
        function = getattr(getattr(importlib.import_module(module), owner), name)
        tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
        assert isinstance(tree, ast.FunctionDef)
        if ast.get_docstring(tree) is not None:
            tree.body = tree.body[1:]
        if hashlib.sha256(ast.unparse(tree).encode()).hexdigest()[:16] != expected:
            changed.append(dotted)
    assert not changed, f"Django changed code the rollback fast path copies: {changed}"


# Where Django's schema editors and operations read reverse relations or the whole registry
# (render-speed.md §2), and which operations reach ``alter_field``: the same in 4.2, 5.2 and 6.1.
# The fast path hands referrers to the alter_field family only and renders RenameModel in full.
REVERSE_READERS = {
    "db/backends/base/schema.py:BaseDatabaseSchemaEditor._alter_field",
    "db/backends/oracle/schema.py:DatabaseSchemaEditor._alter_field_type_workaround",
    "db/backends/sqlite3/schema.py:DatabaseSchemaEditor._alter_field",
    "db/migrations/operations/models.py:RenameModel.database_forwards",
}
ALTER_FIELD_CALLERS = {
    "AlterField.database_forwards",
    "RenameField.database_forwards",
    "RenameField.database_backwards",
}
_READS_REVERSE = re.compile(
    r"related_objects|_related_non_m2m_objects|_all_related_fields|get_fields\(|_get_fields|fields_map|get_models"
)


def test_reverse_relation_readers_are_the_ones_the_fast_path_knows() -> None:
    """A Django release that reads reverse relations somewhere new fails here, naming where:
    the fast path must hand that operation its referrers (or the full registry) first."""
    import ast

    import django

    root = Path(django.__file__).parent
    readers, callers = set(), set()
    for path in [*root.glob("db/backends/*/schema.py"), *root.glob("db/migrations/operations/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for function in (f for f in node.body if isinstance(f, ast.FunctionDef)):
                    source = ast.unparse(function)
                    if _READS_REVERSE.search(source):
                        readers.add(f"{path.relative_to(root)}:{node.name}.{function.name}")
                    if "operations" in path.parts and "schema_editor.alter_field(" in source:
                        callers.add(f"{node.name}.{function.name}")
    assert readers == REVERSE_READERS, f"reverse-relation readers changed: {readers ^ REVERSE_READERS}"
    assert callers - {"RenameModel.database_forwards"} == ALTER_FIELD_CALLERS, callers


def _copy(db: Database, factory: ProjectFactory) -> Database:
    """A second database with the same schema and rows (file copy, template, dump and restore)."""
    copy = Database.create(db.backend, Path(db.name).parent, "django.sqlite3")
    factory.databases.append(copy)
    if db.backend == "sqlite":
        shutil.copyfile(db.name, copy.name)
    elif db.backend == "postgresql":
        copy.drop()
        Database("postgresql", "postgres").execute(f'CREATE DATABASE "{copy.name}" TEMPLATE "{db.name}"')
    else:
        params = server_params("mysql")
        login = [f"--host={params['host']}", f"--port={params['port']}", f"--user={params['user']}"]
        if params["password"]:
            login.append(f"--password={params['password']}")
        dump = subprocess.run(["mysqldump", *login, db.name], capture_output=True, check=True)
        subprocess.run(["mysql", *login, copy.name], input=dump.stdout, capture_output=True, check=True)
    return copy


def _fingerprint(db: Database) -> Any:
    """Every table's columns in order with types, defaults, indexes, constraints and foreign keys."""
    tables = sorted(t for t in db.tables() if not t.startswith("migtool_"))
    if db.backend == "sqlite":
        return db.rows(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'migtool_%' ORDER BY type, name"
        )
    if db.backend == "postgresql":
        columns = db.rows(
            "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default, "
            "character_maximum_length FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name NOT LIKE 'migtool_%' ORDER BY table_name, ordinal_position"
        )
        constraints = db.rows(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() "
            "AND conrelid::regclass::text NOT LIKE 'migtool_%' ORDER BY 1, 2"
        )
        indexes = db.rows(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename NOT LIKE 'migtool_%' ORDER BY 1, 2"
        )
        return tables, columns, constraints, indexes
    created = [db.rows(f"SHOW CREATE TABLE `{table}`")[0][1] for table in tables]
    return [_keys_sorted(re.sub(r" AUTO_INCREMENT=\d+", "", sql)) for sql in created]


def _keys_sorted(create_table: str) -> str:
    """MariaDB lists a table's keys and constraints in the order they were created,
    which depends on the order independent steps ran in (migtool reverts in Django's
    replay order, the per-app commands app by app); columns keep their order."""
    lines = create_table.splitlines()
    body = [line.rstrip(",") for line in lines[1:-1]]
    keys = sorted(line for line in body if line.lstrip().startswith(("KEY ", "UNIQUE KEY ", "CONSTRAINT ")))
    return "\n".join([lines[0], *(line for line in body if line not in keys), *keys, lines[-1]])
