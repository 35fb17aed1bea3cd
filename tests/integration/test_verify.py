"""Integration tests of ``migtool verify`` and its pytest plugin (README: "migtool verify").

Each test runs ``python -m migtool verify`` on a real project and a real
database, reads the JSON report, and checks that the project's own database
is exactly as it was before (verify rehearses on a scratch database) and that
the scratch database is gone afterwards.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from projects import Database, Project, Result, database_exists, migration, server_params
from scenarios import ITEM, ITEM_RELEASE, MERGE_RELEASE, add_field, merge_shape, null_allowed_shape, shop_after_item
from test_rollback import released_project, snapshot_db

MakeProject = Callable[..., Project]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopsite"
IRREVERSIBLE = "catalog.0005_backfill_uppercase_sku"

# A revert that drops the wrong index: 0002 adds shop_item_qty_idx, its revert
# removes shop_item_name_idx (which 0001's release had) instead.
WRONG_INDEX = """
class AddQtyIndex(migrations.AddIndex):
    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, "item")
        schema_editor.remove_index(model, models.Index(fields=["name"], name="shop_item_name_idx"))
"""
# A revert that leaves a column type changed: 0002 widens Item.name, its revert does nothing.
WIDEN_ONLY = """
class WidenName(migrations.AlterField):
    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass
"""
NAME_TYPES = {
    "sqlite": ("varchar(100)", "varchar(10)"),
    "postgresql": ("character varying(100)", "character varying(10)"),
    "mysql": ("varchar(100)", "varchar(10)"),
}


def verify(project: Project, *args: str) -> tuple[Result, dict[str, Any]]:
    """Run verify with JSON output; check the real database is untouched and the scratch
    one gone (or, with ``--keep``, still there)."""
    before = snapshot_db(project)
    result = project.migtool("verify", "--format", "json", *args)
    assert result.code in (0, 1), result
    assert snapshot_db(project) == before, "verify changed the real database"
    report = json.loads(result.stdout)
    assert report["kind"] == "verify" and report["ok"] == (result.code == 0), result
    assert scratch_exists(project, report["scratch_database"]) == ("--keep" in args), report
    if project.db.backend != "sqlite":
        assert report["scratch_database"] == f"test_{project.db.name}"
    return result, report


def scratch_exists(project: Project, name: str) -> bool:
    if project.db.backend == "sqlite":
        return Path(name).exists()
    return database_exists(project.db.backend, name)


def steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['from']} -> {s['to']}": s for s in report["steps"]}


def freeze(project: Project, release: str) -> None:
    frozen = project.migtool("freeze", "--release", release)
    assert frozen.code == 0, frozen


# --------------------------------------------------------------------------- the example project


@pytest.fixture
def shopsite(tmp_path: Path, backend: str) -> Any:
    """examples/shopsite copied, on a fresh database of ``backend`` migrated to 1.1.0 with an order."""
    root = tmp_path / "shopsite"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("db.sqlite3*", "__pycache__"))
    db = Database.create(backend, tmp_path)
    if backend == "sqlite":
        env = {"SHOPSITE_SQLITE_PATH": db.name}
    else:
        params = server_params(backend)
        scheme = "postgres" if backend == "postgresql" else "mysql"
        env = {"DATABASE_URL": f"{scheme}://{params['user']}@{params['host']}:{params['port']}/{db.name}"}
    project = Project(root=root, db=db, apps={}, env={"DJANGO_SETTINGS_MODULE": "shopsite.settings", **env})
    migrated = project.migtool("migrate-safe", "--release", "1.1.0")
    assert migrated.code == 0, migrated
    yield project
    db.drop()


@pytest.mark.backends
def test_example_passes_with_its_irreversible_step_allowed(shopsite: Project) -> None:
    result, report = verify(shopsite, "--allow-irreversible", IRREVERSIBLE)
    assert result.code == 0, result
    by_step = steps(report)
    assert list(by_step) == ["None -> 1.0.0", "1.0.0 -> 1.1.0", "1.1.0 -> 2.0.0"]
    middle = by_step["1.0.0 -> 1.1.0"]
    assert (middle["forward"], middle["rollback"], middle["schema"], middle["forward_again"]) == (
        "ok",
        "ok",
        "restored exactly",
        "ok",
    )
    assert middle["differences"] == [] and middle["errors"] == []
    last = by_step["1.1.0 -> 2.0.0"]
    assert last["rollback"] == "irreversible (allowed)" and last["ok"]
    assert last["irreversible"] == [f"{IRREVERSIBLE}: RunPython uppercase_skus has no reverse_code"]


def test_example_fails_on_the_irreversible_step_unless_allowed(shopsite: Project) -> None:
    """Irreversibility is read from the operations, the same on every backend: SQLite only."""
    result, report = verify(shopsite, "--from", "1.1.0")
    assert result.code == 1, result
    assert [(s["to"], s["ok"]) for s in report["steps"]] == [("1.1.0", True), ("2.0.0", False)]
    assert report["steps"][1]["rollback"] == "irreversible"


@pytest.mark.backends
def test_example_with_data_finds_the_not_null_revert(shopsite: Project) -> None:
    result, report = verify(shopsite, "--with-data", "--allow-irreversible", IRREVERSIBLE, "--to", "1.1.0")
    assert result.code == 1, result
    step = steps(report)["1.0.0 -> 1.1.0"]
    assert step["rollback"] == "failed" and not step["ok"]
    assert step["seeded_rows"] > 0
    assert len(step["errors"]) == 1 and "note" in step["errors"][0], step
    # The pre-flight predicted it, so it is not a miss.
    assert step["preflight_predicted"] and not step["preflight_miss"]


# --------------------------------------------------------------------------- fixture projects


def test_clean_project_passes(make_project: MakeProject) -> None:
    """Merges, a cross-app foreign key and a late app (the example covers these on every backend)."""
    project = released_project(make_project, merge_shape(), MERGE_RELEASE)
    result, report = verify(project)
    assert result.code == 0, result
    assert [(s["from"], s["to"]) for s in report["steps"]] == [(None, "r1"), ("r1", "(disk)")]
    assert report["steps"][1]["schema"] == "restored exactly"


CHECK_CONSTRAINT = """
import django

CONDITION = "condition" if django.VERSION >= (5, 1) else "check"
"""


@pytest.mark.backends
def test_check_constraint_survives_and_rows_it_refuses_are_reported(make_project: MakeProject) -> None:
    """A project with a check constraint passes with data; the rows it refuses are named, not lost."""
    check = "models.CheckConstraint(**{CONDITION: models.Q(qty__lt=100)}, name='shop_item_qty_small')"
    apps = shop_after_item({})
    apps["shop"]["0002_check"] = migration(
        deps=[("shop", "0001_a")], ops=[f"migrations.AddConstraint('Item', {check})"], preamble=CHECK_CONSTRAINT
    )
    apps["shop"]["0003_note"] = migration(
        deps=[("shop", "0002_check")], ops=[add_field("Item", "note", "models.TextField(null=True)")]
    )
    project = released_project(make_project, apps, {("shop", "0001_a"), ("shop", "0002_check")})
    result, report = verify(project, "--with-data", "--keep")
    try:
        assert result.code == 0, result
        first, step = report["steps"]
        assert first["seeded_rows"] == 0 and len(first["seed_skipped"]) == 1, first
        assert first["seed_skipped"][0].startswith("shop_item: "), first
        assert "shop_item_qty_small" in first["seed_skipped"][0], first
        assert step["schema"] == "restored exactly", step
    finally:
        if project.db.backend == "sqlite":
            shutil.rmtree(Path(report["scratch_database"]).parent)
        else:
            Database(project.db.backend, report["scratch_database"]).drop()


@pytest.mark.backends
def test_scratch_name_that_is_the_real_database_is_refused(make_project: MakeProject, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite rehearses on a temporary file, never on TEST['NAME']")
    same = "DATABASES['default']['TEST'] = {'NAME': DATABASES['default']['NAME']}"
    project = released_project(make_project, merge_shape(), MERGE_RELEASE)
    project.extra_settings = same
    project.write_settings()
    before = snapshot_db(project)
    result = project.migtool("verify")
    assert result.code == 3, result
    assert f"would be its real database '{project.db.name}'" in result.stderr, result
    assert snapshot_db(project) == before


@pytest.mark.backends
def test_revert_that_drops_the_wrong_index(make_project: MakeProject) -> None:
    name_index = "migrations.AddIndex('Item', models.Index(fields=['name'], name='shop_item_name_idx'))"
    qty_index = "AddQtyIndex('Item', models.Index(fields=['qty'], name='shop_item_qty_idx'))"
    apps = {
        "shop": {
            "0001_a": migration(ops=[ITEM, name_index]),
            "0002_qty_idx": migration(deps=[("shop", "0001_a")], ops=[qty_index], preamble=WRONG_INDEX),
        }
    }
    project = released_project(make_project, apps, ITEM_RELEASE, name="2.0.3")
    freeze(project, "2.0.4")
    result, report = verify(project)
    assert result.code == 1, result
    step = steps(report)["2.0.3 -> 2.0.4"]
    assert step["rollback"] == "ok" and step["schema"] == "differs"
    assert step["differences"] == [
        "rollback 2.0.4 → 2.0.3 leaves index shop_item_qty_idx",
        "rollback 2.0.4 → 2.0.3 does not restore index shop_item_name_idx",
    ]
    # Forward again re-creates an index that is still there.
    assert step["forward_again"] == "failed" and "shop_item_qty_idx" in step["errors"][0], step


@pytest.mark.backends
def test_revert_that_leaves_a_column_type_changed(make_project: MakeProject, backend: str) -> None:
    apps = shop_after_item({})
    apps["shop"]["0002_widen"] = migration(
        deps=[("shop", "0001_a")],
        ops=["WidenName('Item', 'name', models.CharField(max_length=100))"],
        preamble=WIDEN_ONLY,
    )
    project = released_project(make_project, apps, ITEM_RELEASE, name="2.0.3")
    freeze(project, "2.0.4")
    result, report = verify(project)
    assert result.code == 1, result
    step = steps(report)["2.0.3 -> 2.0.4"]
    now, was = NAME_TYPES[backend]
    assert step["differences"] == [f"rollback 2.0.4 → 2.0.3 column shop_item.name is {now}, was {was}"]
    assert (step["rollback"], step["schema"], step["forward_again"]) == ("ok", "differs", "ok")


@pytest.mark.backends
def test_reverts_that_fail_on_seeded_data(make_project: MakeProject) -> None:
    """r1 -> r2 restores NOT NULL (the pre-flight predicts it); r2 -> r3's revert creates a
    unique index in raw SQL (the pre-flight cannot see it): a pre-flight miss with data,
    and a leftover index without."""
    unique = "migrations.RunSQL('SELECT 1', reverse_sql='CREATE UNIQUE INDEX shop_item_qty_uniq ON shop_item (qty)')"
    apps = null_allowed_shape()
    project = released_project(make_project, apps, ITEM_RELEASE, name="r1")
    freeze(project, "r2")
    project.write_migration("shop", "0003_probe", migration(deps=[("shop", "0002_qty_null")], ops=[unique]))
    freeze(project, "r3")
    project.write_migration(
        "shop",
        "0004_note",
        migration(deps=[("shop", "0003_probe")], ops=[add_field("Item", "note", "models.TextField(null=True)")]),
    )

    result, report = verify(project, "--with-data")
    assert result.code == 1, result
    by_step = steps(report)
    not_null = by_step["r1 -> r2"]
    assert not_null["rollback"] == "failed" and not_null["preflight_predicted"] and not not_null["preflight_miss"]
    assert not_null["errors"][0].startswith("shop.0002_qty_null: "), not_null
    miss = by_step["r2 -> r3"]
    assert miss["rollback"] == "failed" and miss["preflight_predicted"] == [] and miss["preflight_miss"], miss
    assert miss["errors"][0].startswith("shop.0003_probe: "), miss
    assert by_step["r3 -> (disk)"]["ok"], by_step

    result, report = verify(project)
    assert result.code == 1, result
    by_step = steps(report)
    assert by_step["r1 -> r2"]["ok"] and by_step["r3 -> (disk)"]["ok"], by_step
    assert by_step["r2 -> r3"]["differences"][0] == "rollback r3 → r2 leaves unique index shop_item_qty_uniq"


# --------------------------------------------------------------------------- the pytest plugin

PYTEST_INI = "[pytest]\nDJANGO_SETTINGS_MODULE = settings\n"
DB_TEST = """
import pytest
from django.db import connection


@pytest.mark.django_db
def test_database_is_the_test_database():
    assert connection.settings_dict["NAME"] != REAL
"""


def test_pytest_plugin_runs_verify_in_a_pytest_django_session(make_project: MakeProject) -> None:
    project = released_project(make_project, merge_shape(), MERGE_RELEASE)
    (project.root / "pytest.ini").write_text(PYTEST_INI)
    (project.root / "test_app.py").write_text(f"REAL = {project.db.name!r}\n" + DB_TEST)
    assert project.manage("migrate").code == 0
    before = snapshot_db(project)
    pytest_run = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]

    off = project.run([*pytest_run, "-v"])
    assert off.code == 0 and "1 passed" in off.stdout and "migtool-verify" not in off.stdout, off

    on = project.run([*pytest_run, "--migtool-verify", "-v"])
    assert on.code == 0 and "2 passed" in on.stdout and "migtool-verify PASSED" in on.stdout, on

    project.write_migration(
        "shop", "0004_fill", migration(deps=[("shop", "0003_d")], ops=["migrations.RunSQL('SELECT 1')"])
    )
    failing = project.run([*pytest_run, "--migtool-verify"])
    assert failing.code == 1, failing
    assert "irreversible" in failing.stdout and "has no reverse_sql" in failing.stdout, failing
    assert "1 failed, 1 passed" in failing.stdout, failing
    assert snapshot_db(project) == before
