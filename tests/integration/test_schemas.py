"""Schema targets on PostgreSQL with django-tenants: migrate-safe, rollback, status and
discovery on one tenant schema at a time, checked in each schema's own tables.

Stock Django is the oracle: a schema migrated by migtool must end exactly where
``manage.py migrate_schemas --schema`` leaves another one.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from scenarios import ITEM, add_field, alter_field, linear
from tenants import journal_runs, make_tenants_project, schema_columns, schema_rows, schema_tables

SHOP_0001 = {"0001_initial": [ITEM]}
SHOP_LATER = {
    "0002_color": [add_field("Item", "color", "models.CharField(max_length=10, default='red')")],
    "0003_unique_name": [alter_field("Item", "name", "models.CharField(max_length=10, unique=True)")],
}


pytestmark = pytest.mark.backends


@pytest.fixture
def fleet(backend: str, make_project):
    """public + tenant_1..3, every schema at shop 0001; the later migrations written, not applied."""
    if backend != "postgresql":
        pytest.skip("schema targets are PostgreSQL-only")
    project = make_tenants_project(make_project, {"shop": linear("shop", SHOP_0001)})
    return project


def add_later_migrations(project) -> None:
    for name, source in linear("shop", SHOP_LATER, first_deps=[("shop", "0001_initial")]).items():
        project.write_migration("shop", name, source)


def test_migrate_safe_and_rollback_change_only_the_target_schema(fleet):
    project = fleet
    assert project.migtool("freeze", "--release", "r1").ok
    add_later_migrations(project)
    before = {s: schema_rows(project, s) for s in ("public", "tenant_1", "tenant_2", "tenant_3")}

    result = project.migtool("migrate-safe", "--database", "default:tenant_1")
    assert result.ok, result
    assert "default:tenant_1" in result.stderr
    wanted = {("shop", "0002_color"), ("shop", "0003_unique_name")}
    assert schema_rows(project, "tenant_1") == before["tenant_1"] | wanted
    assert "color" in schema_columns(project, "tenant_1", "shop_item")
    for other in ("public", "tenant_2", "tenant_3"):
        assert schema_rows(project, other) == before[other]
        assert "migtool_run" not in schema_tables(project, other)
    assert "color" not in schema_columns(project, "tenant_2", "shop_item")
    assert [r[1:] for r in journal_runs(project, "tenant_1")] == [("migrate-safe", "succeeded")]

    # The oracle: Django's migrate_schemas on tenant_2 ends where migtool left tenant_1.
    assert project.manage("migrate_schemas", "--schema", "tenant_2", "-v0").ok
    assert schema_rows(project, "tenant_2") == schema_rows(project, "tenant_1")
    assert schema_columns(project, "tenant_2", "shop_item") == schema_columns(project, "tenant_1", "shop_item")

    status = project.migtool("status", "--database", "default:tenant_3", "--format", "json")
    assert status.ok, status
    (payload,) = json.loads(status.stdout)["targets"]  # a schema target is a fleet of one
    shop = next(a for a in payload["apps"] if a["app"] == "shop")
    assert (payload["target"], shop["applied"], shop["unapplied"]) == (
        "default:tenant_3",
        ["0001_initial"],
        ["0002_color", "0003_unique_name"],
    )
    assert payload["matching_releases"] == ["r1"]

    result = project.migtool("rollback", "r1", "--yes", "--database", "default:tenant_1")
    assert result.ok, result
    assert schema_rows(project, "tenant_1") == before["tenant_1"]
    assert "color" not in schema_columns(project, "tenant_1", "shop_item")
    assert schema_rows(project, "tenant_2") == before["tenant_2"] | wanted  # untouched by the rollback
    assert [r[1:] for r in journal_runs(project, "tenant_1")] == [
        ("migrate-safe", "succeeded"),
        ("rollback", "succeeded"),
    ]


def test_a_failure_restores_that_schema_exactly(fleet):
    project = fleet
    add_later_migrations(project)
    # Duplicate names in tenant_2 only: 0003 (unique) fails there after 0002 ran.
    project.db.execute("INSERT INTO tenant_2.shop_item (name, qty) VALUES ('x', 1), ('x', 2)")
    columns = schema_columns(project, "tenant_2", "shop_item")
    rows = schema_rows(project, "tenant_2")

    result = project.migtool("migrate-safe", "--database", "default:tenant_2")
    assert result.code == 6, result
    assert schema_rows(project, "tenant_2") == rows
    assert schema_columns(project, "tenant_2", "shop_item") == columns
    assert project.db.rows("SELECT count(*) FROM tenant_2.shop_item") == [(2,)]
    assert [r[1:] for r in journal_runs(project, "tenant_2")] == [("migrate-safe", "restored")]

    assert project.migtool("migrate-safe", "--database", "default:tenant_3").ok
    assert ("shop", "0003_unique_name") in schema_rows(project, "tenant_3")


DISCOVER = """
import json, django
django.setup()
from django.db import connection
from migtool.api import Project
from migtool.core.planner import fully_migrated_rows
from migtool.django_adapter import schemas
with connection.cursor() as cursor:  # anything up_to_date writes would fail
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
names = schemas.existing_schemas(connection)
print(json.dumps({
    "glob": schemas.matching_schemas(connection, "tenant_[13]"),
    "query": schemas.schemas_from_query(connection, "SELECT schema_name FROM customers_client ORDER BY id DESC"),
    "tenants": schemas.tenant_schemas(),
    "up_to_date": sorted(schemas.up_to_date(connection, names, fully_migrated_rows(Project().graph))),
}))
"""


def test_discovery_and_up_to_date_read_without_writing(fleet):
    project = fleet
    add_later_migrations(project)
    project.db.execute("CREATE SCHEMA bare")  # a schema without django_migrations
    assert project.migtool("migrate-safe", "--database", "default:tenant_3").ok
    assert project.manage("migrate_schemas", "--schema", "tenant_1", "-v0").ok
    counts = {s: len(schema_rows(project, s)) for s in ("public", "tenant_1", "tenant_2", "tenant_3")}

    result = project.run([sys.executable, "-c", textwrap.dedent(DISCOVER)])
    assert result.ok, result
    found = json.loads(result.stdout)
    assert found["glob"] == ["tenant_1", "tenant_3"]
    assert found["query"] == ["tenant_3", "tenant_2", "tenant_1"]
    assert found["tenants"] == ["default", ["public", "tenant_1", "tenant_2", "tenant_3"]]
    # public lacks shop 0002/0003 (migrate_schemas --shared ran before they existed); tenant_2 too.
    assert found["up_to_date"] == ["tenant_1", "tenant_3"]
    assert {s: len(schema_rows(project, s)) for s in counts} == counts
    assert schema_tables(project, "bare") == set()


def test_bad_schema_targets_are_refused_untouched(fleet):
    project = fleet
    result = project.migtool("migrate-safe", "--database", "default:nope")
    assert result.code == 3 and "Schema 'nope' does not exist" in result.stderr, result
    assert "Traceback" not in result.stderr
    result = project.migtool("status", "--database", 'default:x"y')
    assert result.code == 2 and "not a schema name" in result.output, result
    assert project.db.rows("SELECT count(*) FROM pg_namespace WHERE nspname = 'nope'") == [(0,)]


HOLD_LOCK = """
import sys, time, django
django.setup()
from migtool import api
with api.exclusive(api.Project(), "default:tenant_1", 0):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_the_lock_is_per_schema(fleet):
    import subprocess

    project = fleet
    add_later_migrations(project)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_LOCK)],
        cwd=project.root,
        env=project.child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        blocked = project.migtool("migrate-safe", "--database", "default:tenant_1", "--lock-timeout", "0")
        assert blocked.code == 5 and "tenant_1" in blocked.stderr, blocked
        assert project.migtool("migrate-safe", "--database", "default:tenant_2", "--lock-timeout", "0").ok
        assert project.migtool("migrate-safe", "--lock-timeout", "0").ok  # public: the database's own key
    finally:
        holder.communicate("", timeout=30)
    assert ("shop", "0002_color") not in schema_rows(project, "tenant_1")
    assert ("shop", "0002_color") in schema_rows(project, "tenant_2")
    assert ("shop", "0002_color") in schema_rows(project, "public")


def test_a_schema_target_on_djangos_own_backend(backend: str, make_project):
    """Without django-tenants: the schema's own django_migrations and journal are created and
    used, though public's are visible through the search_path."""
    if backend != "postgresql":
        pytest.skip("schema targets are PostgreSQL-only")
    project = make_project({"shop": linear("shop", SHOP_0001)})
    assert project.migtool("migrate-safe").ok  # public: its own rows and journal
    project.db.execute("CREATE SCHEMA s1")
    add_later_migrations(project)

    result = project.migtool("migrate-safe", "--database", "default:s1")
    assert result.ok, result
    assert schema_rows(project, "s1") == {("shop", n) for n in ("0001_initial", "0002_color", "0003_unique_name")}
    assert "color" in schema_columns(project, "s1", "shop_item")
    assert [r[1:] for r in journal_runs(project, "s1")] == [("migrate-safe", "succeeded")]
    assert schema_rows(project, "public") == {("shop", "0001_initial")}
    assert [r[1:] for r in journal_runs(project, "public")] == [("migrate-safe", "succeeded")]
    assert "color" not in schema_columns(project, "public", "shop_item")


def test_migrate_safe_over_the_tenants_then_skips_them_untouched(fleet):
    project = fleet
    add_later_migrations(project)
    everyone = ("public", "tenant_1", "tenant_2", "tenant_3")
    before = {s: schema_rows(project, s) for s in everyone}
    wanted = {("shop", "0002_color"), ("shop", "0003_unique_name")}

    result = project.migtool("migrate-safe", "--tenants", "--jobs", "2", "--format", "json")
    assert result.ok, result
    payload = json.loads(result.stdout)
    assert [t["target"] for t in payload["targets"]][0] == "default:public"
    assert {t["target"]: t["status"] for t in payload["targets"]} == {f"default:{s}": "succeeded" for s in everyone}
    for schema in everyone:
        assert schema_rows(project, schema) == before[schema] | wanted
        assert [r[1:] for r in journal_runs(project, schema)] == [("migrate-safe", "succeeded")]
    assert "color" in schema_columns(project, "tenant_2", "shop_item")
    assert "color" not in schema_columns(project, "public", "shop_item")  # a tenant app: not in public

    journals = {s: journal_runs(project, s) for s in everyone}
    again = project.migtool("migrate-safe", "--tenants", "--format", "json")
    assert again.ok, again
    statuses = {t["status"] for t in json.loads(again.stdout)["targets"]}
    assert statuses == {"skipped: up to date"}
    assert {s: journal_runs(project, s) for s in everyone} == journals  # not a row written


def test_schemas_glob_with_a_failing_schema_restores_it_and_goes_on(fleet):
    project = fleet
    add_later_migrations(project)
    project.db.execute("INSERT INTO tenant_2.shop_item (name, qty) VALUES ('x', 1), ('x', 2)")
    columns = schema_columns(project, "tenant_2", "shop_item")
    rows = {s: schema_rows(project, s) for s in ("public", "tenant_1", "tenant_2", "tenant_3")}

    result = project.migtool("migrate-safe", "--schemas", "tenant_*", "--on-failure", "continue", "--format", "json")
    assert result.code == 6, result
    outcome = {t["target"]: t["status"] for t in json.loads(result.stdout)["targets"]}
    assert outcome == {"default:tenant_1": "succeeded", "default:tenant_2": "failed", "default:tenant_3": "succeeded"}
    assert schema_rows(project, "tenant_2") == rows["tenant_2"]
    assert schema_columns(project, "tenant_2", "shop_item") == columns
    assert project.db.rows("SELECT count(*) FROM tenant_2.shop_item") == [(2,)]
    assert schema_rows(project, "public") == rows["public"]  # not selected by the glob
    for schema in ("tenant_1", "tenant_3"):
        assert ("shop", "0003_unique_name") in schema_rows(project, schema)

    query = project.migtool(
        "status", "--schemas-from-query", "SELECT schema_name FROM customers_client", "--format", "json"
    )
    assert query.ok or query.code == 1, query
    reports = json.loads(query.stdout)["targets"]
    assert [r["target"] for r in reports] == ["default:tenant_1", "default:tenant_2", "default:tenant_3"]


# Two schema targets migrated in one process, as a fleet worker does; prints what each ran.
COUNT_STATEMENTS = """
import json, django
django.setup()
from django.db import connections
from migtool import api
from migtool.api.fleet import FleetOrder, new_fleet_run, run_target
from migtool.fleet.targets import Target
seen = []
def count(execute, sql, params, many, context):
    seen.append(sql)
    return execute(sql, params, many, context)
connections["default"].execute_wrappers.append(count)
project = api.Project()
project.setup()
order = FleetOrder("migrate-safe", new_fleet_run())
report = {}
for schema in ("tenant_1", "tenant_2"):
    seen.clear()
    outcome = run_target(project, Target("default", schema), order)
    report[schema] = {
        "status": outcome.status,
        "listings": sum("SHOW search_path" in sql for sql in seen),
        "reads": sum('FROM "django_migrations"' in sql for sql in seen),
    }
print(json.dumps(report))
"""


def test_a_schema_target_reads_its_rows_once_per_phase_and_lists_no_tables(fleet):
    """The fleet's per-target cost (issue 12): the second target of a process reads
    django_migrations three times (plan, restore snapshot, verification; it was 9) and
    never goes through django-tenants' table listing (SHOW, SET, list, SET back; 14 times)."""
    project = fleet
    add_later_migrations(project)
    result = project.run([sys.executable, "-c", textwrap.dedent(COUNT_STATEMENTS)])
    assert result.ok, result
    report = json.loads(result.stdout)
    assert {s: r["status"] for s, r in report.items()} == {"tenant_1": "succeeded", "tenant_2": "succeeded"}
    # The first target of a process also builds the shared graphs (Django reads the rows itself).
    assert report["tenant_2"] == {"status": "succeeded", "listings": 0, "reads": 3}, report
    wanted = {("shop", "0002_color"), ("shop", "0003_unique_name")}
    for schema in ("tenant_1", "tenant_2"):
        assert wanted <= schema_rows(project, schema)
        assert "color" in schema_columns(project, schema, "shop_item")
    assert not wanted & schema_rows(project, "tenant_3")
