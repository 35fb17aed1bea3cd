"""The fleet engine over PostgreSQL schemas (django-tenants from PyPI): failure policies,
canaries, SIGKILL and resume, checked in every schema's own tables.

The fleet is ``--tenants``: ``public`` first, then ``tenant_1`` … ``tenant_3``, all at
``shop.0001_initial`` (built by ``tenants.make_tenants_project`` with django-tenants'
own ``migrate_schemas`` and ``Client.save()``).  The batch is ``shop.0002_color``
(AddField) and ``shop.0003_check``, whose RunPython fails or pauses in the schemas
named by ``FLEET_FAIL`` / ``FLEET_NAP`` (read with ``current_schema()``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from projects import migration
from scenarios import ITEM, add_field, linear
from tenants import journal_runs, make_tenants_project, schema_columns, schema_rows

pytestmark = pytest.mark.backends
SCHEMAS = ("public", "tenant_1", "tenant_2", "tenant_3")
TENANTS = SCHEMAS[1:]
BATCH = {("shop", "0002_color"), ("shop", "0003_check")}

CHECK_CODE = '''
import os
import pathlib
import time


def check(apps, schema_editor):
    """Fail in the schemas named by $FLEET_FAIL; in those of $FLEET_NAP, touch
    $FLEET_NAP_MARKER.<schema> and sleep."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
    if schema in os.environ.get("FLEET_NAP", "").split(","):
        pathlib.Path(os.environ["FLEET_NAP_MARKER"] + "." + schema).touch()
        time.sleep(60)
    if schema in os.environ.get("FLEET_FAIL", "").split(","):
        raise RuntimeError("injected failure in " + schema)
'''


@pytest.fixture
def project(backend, make_project):
    if backend != "postgresql":
        pytest.skip("schema targets are PostgreSQL-only")
    project = make_tenants_project(make_project, {"shop": linear("shop", {"0001_initial": [ITEM]})})
    project.write_migration(
        "shop",
        "0002_color",
        migration(deps=[("shop", "0001_initial")], ops=[add_field("Item", "color", "models.IntegerField(null=True)")]),
    )
    project.write_migration(
        "shop",
        "0003_check",
        migration(
            deps=[("shop", "0002_color")],
            ops=["migrations.RunPython(check, migrations.RunPython.noop)"],
            preamble=CHECK_CODE,
        ),
    )
    return project


def migrated(project, schema: str) -> bool:
    """Whether the batch is in the schema, checked in its rows and (tenants) its columns."""
    rows = schema_rows(project, schema)
    done = rows >= BATCH
    assert done or not (BATCH & rows), f"{schema} is half-migrated: {rows}"
    if schema != "public":  # shop is a tenant app: public records it but has no shop_item
        assert done == ("color" in schema_columns(project, schema, "shop_item")), schema
    return done


def statuses(stdout: str) -> dict[str, str]:
    return {t["target"].split(":")[1]: t["status"] for t in json.loads(stdout)["targets"]}


def test_rollback_policy_leaves_every_schema_as_it_started(project):
    project.env["FLEET_FAIL"] = "tenant_2"
    result = project.migtool("migrate-safe", "--tenants", "--on-failure", "rollback", "--format", "json")
    assert result.code == 6, result
    assert statuses(result.stdout) == {
        "public": "restored", "tenant_1": "restored", "tenant_2": "failed", "tenant_3": "not started",
    }  # fmt: skip
    assert not any(migrated(project, s) for s in SCHEMAS)
    assert [r[1:] for r in journal_runs(project, "tenant_1")] == [
        ("migrate-safe", "succeeded"), ("fleet restore", "succeeded"),
    ]  # fmt: skip
    assert journal_runs(project, "tenant_3") == []


def test_a_canary_failure_touches_no_other_schema(project):
    if not os.environ.get("MIGTOOL_FLEET_MATRIX"):
        pytest.skip("set MIGTOOL_FLEET_MATRIX=1 (make test-fleet) to run this case")
    project.env["FLEET_FAIL"] = "tenant_1"
    result = project.migtool(
        "migrate-safe", "--tenants", "--canary", "1", "--jobs", "2", "--on-failure", "continue", "--format", "json"
    )
    assert result.code == 6, result
    assert statuses(result.stdout) == {
        "public": "succeeded", "tenant_1": "failed", "tenant_2": "not started", "tenant_3": "not started",
    }  # fmt: skip
    assert [migrated(project, s) for s in SCHEMAS] == [True, False, False, False]
    assert journal_runs(project, "tenant_2") == journal_runs(project, "tenant_3") == []


def test_resume_after_sigkill_finishes_the_schemas_running_nothing_twice(project, tmp_path):
    marker = tmp_path / "nap"
    project.env.update(FLEET_NAP="tenant_2", FLEET_NAP_MARKER=str(marker))
    child = subprocess.Popen(
        [sys.executable, "-m", "migtool", "migrate-safe", "--tenants", "--jobs", "2"],
        cwd=project.root, env=project.child_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not Path(f"{marker}.tenant_2").exists():
            assert child.poll() is None and time.monotonic() < deadline, child.communicate()
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the fleet process and its workers
        child.communicate()
    assert not migrated(project, "tenant_2")  # its transaction died with it
    run = project.db.rows('SELECT fleet_run FROM "public".migtool_run')[0][0]
    project.env.pop("FLEET_NAP")
    resumed = project.migtool("fleet", "resume", run, "--tenants", "--format", "json")
    assert resumed.ok, resumed
    assert "tenant_2" in statuses(resumed.stdout)
    assert all(migrated(project, s) for s in SCHEMAS)
    for schema in SCHEMAS:
        rows = project.db.rows(f'SELECT app, name, COUNT(*) FROM "{schema}".django_migrations GROUP BY app, name')
        assert all(count == 1 for _, _, count in rows), (schema, rows)
    final = project.migtool("fleet", "status", run, "--tenants", "--format", "json")
    assert final.ok and set(statuses(final.stdout).values()) == {"succeeded"}, final


def test_a_schema_that_does_not_exist_is_refused_with_its_reason_and_stays_absent(project):
    targets = ["--database", "default:public", "--database", "default:ghost", "--database", "default:tenant_1"]
    result = project.migtool("migrate-safe", *targets, "--on-failure", "continue", "--format", "json")
    assert result.code == 3, result
    want = {"public": "succeeded", "ghost": "refused", "tenant_1": "succeeded"}
    assert statuses(result.stdout) == want, result
    assert [migrated(project, s) for s in ("public", "tenant_1", "tenant_2")] == [True, True, False]
    assert project.db.rows("SELECT COUNT(*) FROM pg_namespace WHERE nspname = 'ghost'") == [(0,)]
    status = project.migtool("fleet", "status", *targets, "--format", "json")
    assert status.code == 3 and statuses(status.stdout) == want, status
    ghost = {t["schema"]: t for t in json.loads(status.stdout)["targets"]}["ghost"]
    assert "ghost" in ghost["error"] and "does not exist" in ghost["error"], ghost


def test_a_dry_run_plans_every_schema_and_touches_none(project):
    from tenants import schema_tables

    before = {s: (schema_rows(project, s), schema_tables(project, s)) for s in SCHEMAS}
    result = project.migtool("migrate-safe", "--tenants", "--dry-run", "--format", "json")
    assert result.ok, result
    targets = json.loads(result.stdout)["targets"]
    assert {t["schema"]: t["status"] for t in targets} == dict.fromkeys(SCHEMAS, "would run"), result
    assert all(t["plan"] == ["shop.0002_color", "shop.0003_check"] for t in targets), result
    assert {s: (schema_rows(project, s), schema_tables(project, s)) for s in SCHEMAS} == before
    assert all(journal_runs(project, s) == [] for s in SCHEMAS)
