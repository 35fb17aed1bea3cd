"""``check_steps`` (migtool.django_adapter.preflight) on real databases.

Each test migrates a small project, writes data, then runs ``check_steps`` in
the project through a driver subprocess.  Every check must leave the database
exactly as it was (schema, rows, ``django_migrations``).  Where a verdict is a
prediction about today's data, the test then lets Django revert for real and
asserts that the prediction was right: blocked reverts fail, the others pass.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from preflight_cases import (
    APP,
    CODE,
    CUSTOM_OPERATION,
    DRIVER,
    LONG_VALUE,
    NOTE,
    QTY,
    TABLE,
    UNIQUE_CODE,
    Step,
    shop,
    step_name,
)
from projects import Database, Project, migration

MakeProject = Callable[..., Project]
Check = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def migrated(make_project: MakeProject, apps: dict[str, dict[str, str]]) -> Project:
    project = make_project(apps)
    r = project.manage("migrate")
    assert r.ok, r
    return project


def db_snapshot(db: Database) -> dict[str, Any]:
    """Schema, row counts and ``django_migrations`` rows: what a read-only check must not change."""
    tables = sorted(db.tables())
    return {
        "tables": {t: (sorted(db.columns(t)), db.rows(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables},
        "recorded": sorted(db.rows("SELECT app, name FROM django_migrations")),
    }


def check(project: Project, *steps: int) -> list[Check]:
    """Run ``check_steps`` on shop's migrations ``steps`` (plan order) and return the verdicts."""
    (project.root / "preflight_driver.py").write_text(DRIVER)
    before = db_snapshot(project.db)
    keys = [f"{APP}.{step_name(n)}" for n in steps]
    r = project.run([sys.executable, "preflight_driver.py", *keys])
    assert r.ok, r
    out = json.loads(r.stdout)
    assert out["connection_clean"], "check_steps left a transaction open"
    assert db_snapshot(project.db) == before, "check_steps changed the database"
    assert [c["key"] for c in out["checks"]] == keys
    return list(out["checks"])


def only(checks: list[Check]) -> Check:
    assert len(checks) == 1
    return checks[0]


def assert_revert_matches(project: Project, verdict: Check, to_step: int) -> None:
    """Revert with Django itself: it must fail exactly when the check found blockers."""
    r = project.manage("migrate", APP, step_name(to_step))
    if verdict["blockers"]:
        assert not r.ok, f"predicted to fail but Django reverted it:{r}"
    else:
        assert r.ok, f"predicted to succeed:{verdict}{r}"


def insert(project: Project, columns: str, *rows: tuple[Any, ...]) -> None:
    marks = ", ".join(["%s"] * len(rows[0]))
    for row in rows:
        project.db.execute(f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})", row)


# --------------------------------------------------------------------------- irreversible


@pytest.mark.backends
def test_runpython_without_reverse_is_blocked(make_project: MakeProject, backend: str) -> None:
    project = migrated(make_project, shop([NOTE], Step(["migrations.RunPython(forwards)"])))
    verdict = only(check(project, 2))
    assert verdict["blockers"] == ["RunPython forwards has no reverse_code, so it cannot be reverted."]
    assert verdict["effects"] == ["cannot revert RunPython forwards"]
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_runsql_without_reverse_is_blocked(make_project: MakeProject, backend: str) -> None:
    ops = [f"migrations.RunSQL('UPDATE {TABLE} SET note = note')"]
    project = migrated(make_project, shop([NOTE], Step(ops)))
    verdict = only(check(project, 2))
    assert verdict["blockers"] == [
        f"RunSQL (UPDATE {TABLE} SET note = note) has no reverse_sql, so it cannot be reverted."
    ]
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_irreversible_sql_inside_separate_database_and_state(make_project: MakeProject, backend: str) -> None:
    """SeparateDatabaseAndState says reversible=True; its RunSQL is what fails (§3.1)."""
    ops = [
        "migrations.SeparateDatabaseAndState(database_operations=["
        f"migrations.RunSQL('UPDATE {TABLE} SET note = note')])"
    ]
    project = migrated(make_project, shop([NOTE], Step(ops)))
    verdict = only(check(project, 2))
    assert len(verdict["blockers"]) == 1
    assert "inside SeparateDatabaseAndState has no reverse_sql" in verdict["blockers"][0]
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_operation_without_database_backwards_is_blocked(make_project: MakeProject, backend: str) -> None:
    project = migrated(make_project, shop([NOTE], Step(["TouchNothing()"], preamble=CUSTOM_OPERATION)))
    verdict = only(check(project, 2))
    assert verdict["blockers"] == ["TouchNothing does not implement database_backwards, so it cannot be reverted."]
    assert_revert_matches(project, verdict, 1)


# --------------------------------------------------------------------------- data checks


@pytest.mark.backends
def test_not_null_restored_over_null_rows(make_project: MakeProject, backend: str) -> None:
    ops = ["migrations.AlterField('item', 'note', models.CharField(max_length=20, null=True))"]
    project = migrated(make_project, shop([NOTE], Step(ops)))
    insert(project, "note", ("kept",), (None,))

    verdict = only(check(project, 2))
    assert verdict["effects"] == [f"restore NOT NULL on {TABLE}.note"]
    assert verdict["blockers"] == [f"Reverting restores NOT NULL on {TABLE}.note, but the column is NULL in 1 row."]
    assert_revert_matches(project, verdict, 1)
    assert (APP, step_name(2)) in project.db.applied()

    project.db.execute(f"UPDATE {TABLE} SET note = %s WHERE note IS NULL", ("filled",))
    verdict = only(check(project, 2))
    assert verdict["blockers"] == []
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
@pytest.mark.parametrize(
    "restored, fills_on",
    [
        ("models.CharField(max_length=20, default='-')", {"sqlite", "postgresql", "mysql"}),
        # No default, but blank=True: only SQLite's table remake coalesces NULLs with ''.
        ("models.CharField(max_length=20, blank=True)", {"sqlite"}),
    ],
    ids=["default", "blank"],
)
def test_not_null_restored_with_a_default(
    make_project: MakeProject, backend: str, restored: str, fills_on: set[str]
) -> None:
    ops = ["migrations.AlterField('item', 'note', models.CharField(max_length=20, null=True))"]
    project = migrated(make_project, shop([f"('note', {restored})"], Step(ops)))
    insert(project, "note", (None,))

    verdict = only(check(project, 2))
    if backend in fills_on:
        assert verdict["blockers"] == []
        assert verdict["effects"] == [f"restore NOT NULL on {TABLE}.note (1 NULL value will be set to the default)"]
    else:
        assert len(verdict["blockers"]) == 1
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_max_length_restored_over_longer_values(make_project: MakeProject, backend: str) -> None:
    ops = ["migrations.AlterField('item', 'code', models.CharField(max_length=100))"]
    project = migrated(make_project, shop([CODE], Step(ops)))
    insert(project, "code", ("short",), (LONG_VALUE,))

    verdict = only(check(project, 2))
    if backend == "sqlite":
        assert verdict["blockers"] == []
        assert verdict["effects"] == [
            f"restore max_length 10 on {TABLE}.code (SQLite does not enforce max_length; 1 value longer than 10 kept)"
        ]
    else:
        assert verdict["blockers"] == [
            f"Reverting shrinks {TABLE}.code back to max_length 10, "
            "but the column holds 1 value longer than 10 characters."
        ]
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_unique_restored_over_duplicates(make_project: MakeProject, backend: str) -> None:
    ops = ["migrations.AlterField('item', 'code', models.CharField(max_length=10))"]
    project = migrated(make_project, shop([UNIQUE_CODE], Step(ops)))
    insert(project, "code", ("dup",), ("dup",), ("dup",), ("one",))

    verdict = only(check(project, 2))
    assert verdict["effects"] == [f"restore UNIQUE on {TABLE}.code"]
    assert verdict["blockers"] == [f"Reverting restores UNIQUE on {TABLE}.code, but the column has 1 duplicated value."]
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_unique_constraint_and_together_restored_over_duplicates(make_project: MakeProject, backend: str) -> None:
    apps = shop(
        ["('code', models.CharField(max_length=10, null=True))", NOTE],
        Step(
            [
                "migrations.AddConstraint('item', models.UniqueConstraint(fields=['code'], name='uniq_code'))",
                "migrations.AlterUniqueTogether('item', {('code', 'note')})",
            ]
        ),
        Step(
            [
                "migrations.RemoveConstraint('item', 'uniq_code')",
                "migrations.AlterUniqueTogether('item', set())",
            ]
        ),
    )
    project = migrated(make_project, apps)
    # NULLs never collide in a unique index, so the NULL pair is not a duplicate.
    insert(project, "code, note", ("a", "x"), ("a", "x"), ("b", "y"), ("b", "z"), (None, "w"), (None, "w"))

    verdict = only(check(project, 3))
    assert verdict["effects"] == [
        f"restore unique_together (code, note) on {TABLE}",
        f"re-add constraint uniq_code on {TABLE}",
    ]
    assert verdict["blockers"] == [
        f"Reverting restores unique_together (code, note) on {TABLE}, "
        "but 1 combination of (code, note) occur in more than one row.",
        f"Reverting re-adds unique constraint uniq_code on {TABLE}, "
        "but 2 combinations of (code) occur in more than one row.",
    ]
    assert_revert_matches(project, verdict, 2)


@pytest.mark.backends
def test_integer_restored_over_text(make_project: MakeProject, backend: str) -> None:
    ops = ["migrations.AlterField('item', 'ref', models.CharField(max_length=20, null=True))"]
    project = migrated(make_project, shop(["('ref', models.IntegerField(null=True))"], Step(ops)))
    insert(project, "ref", ("12",), ("-3",), ("abc",), (None,))

    verdict = only(check(project, 2))
    assert verdict["effects"][0].startswith("restore type ")
    if backend == "sqlite":  # SQLite keeps the text in an INTEGER-affinity column
        assert verdict["blockers"] == []
    else:
        assert verdict["blockers"] == [
            f"Reverting turns {TABLE}.ref back into integer, but the column holds 1 non-integer value."
        ]
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
@pytest.mark.parametrize("rows", [1, 0], ids=["with-rows", "empty"])
def test_remove_non_null_field_without_default(make_project: MakeProject, backend: str, rows: int) -> None:
    project = migrated(make_project, shop([NOTE, QTY], Step(["migrations.RemoveField('item', 'qty')"])))
    if rows:
        insert(project, "note", ("n",))

    verdict = only(check(project, 2))
    if backend == "mysql":  # MariaDB/MySQL fill existing rows with 0 instead of failing
        assert verdict["effects"] == [
            f"re-add column {TABLE}.qty (comes back holding MySQL's implicit default, such as 0 or '')"
        ]
        assert verdict["blockers"] == []
    else:
        assert verdict["effects"] == [f"re-add column {TABLE}.qty (comes back empty)"]
        blocker = f"Reverting re-adds {TABLE}.qty as NOT NULL without a default, but {TABLE} has 1 row to fill."
        assert verdict["blockers"] == ([blocker] if rows else [])
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_table_that_comes_back_later_in_the_plan_counts_as_empty(make_project: MakeProject, backend: str) -> None:
    apps = shop(
        [NOTE, QTY],
        Step(["migrations.AlterField('item', 'note', models.CharField(max_length=20, null=True))"]),
        Step(["migrations.DeleteModel('item')"]),
    )
    project = migrated(make_project, apps)
    later, earlier = check(project, 3, 2)
    assert later["effects"] == [f"recreate table {TABLE} (comes back empty)"]
    assert earlier["effects"] == [f"restore NOT NULL on {TABLE}.note"]
    assert later["blockers"] == earlier["blockers"] == []
    assert_revert_matches(project, earlier, 1)


@pytest.mark.backends
def test_unmanaged_model_is_skipped(make_project: MakeProject, backend: str) -> None:
    """Django skips unmanaged models, so a hand-made table with rows blocks nothing."""
    legacy = (
        "migrations.CreateModel('Legacy', [('id', models.BigAutoField(primary_key=True)), "
        "('qty', models.IntegerField())], options={'managed': False})"
    )
    project = migrated(make_project, shop([NOTE], Step([legacy]), Step(["migrations.RemoveField('legacy', 'qty')"])))
    project.db.execute("CREATE TABLE shop_legacy (id integer PRIMARY KEY)")
    project.db.execute("INSERT INTO shop_legacy (id) VALUES (1)")

    later, earlier = check(project, 3, 2)
    unmanaged = "the model is unmanaged: Django never creates or drops its table"
    assert later["effects"] == [f"skip: Remove field qty from legacy ({unmanaged})"]
    assert earlier["effects"] == [f"skip: Create model Legacy ({unmanaged})"]
    assert later["blockers"] == earlier["blockers"] == earlier["data_loss"] == []
    assert_revert_matches(project, later, 2)


# --------------------------------------------------------------------------- data loss


@pytest.mark.backends
def test_add_field_and_create_model_report_data_loss(make_project: MakeProject, backend: str) -> None:
    ops = [
        "migrations.AddField('item', 'price', models.IntegerField(null=True))",
        "migrations.CreateModel('Tag', [('id', models.BigAutoField(primary_key=True)), "
        "('items', models.ManyToManyField('shop.Item'))])",
    ]
    project = migrated(make_project, shop([NOTE], Step(ops)))
    insert(project, "note, price", ("a", 1), ("b", 2), ("c", None))
    project.db.execute("INSERT INTO shop_tag (id) VALUES (1)")
    project.db.execute("INSERT INTO shop_tag_items (tag_id, item_id) SELECT 1, id FROM shop_item")

    verdict = only(check(project, 2))
    assert verdict["blockers"] == []
    assert verdict["effects"] == [
        "drop table shop_tag, shop_tag_items",
        f"drop column {TABLE}.price",
    ]
    assert verdict["data_loss"] == [
        "drops table shop_tag (1 row)",
        "drops table shop_tag_items (3 rows)",
        f"drops column {TABLE}.price (2 rows with a non-NULL value)",
    ]
    assert_revert_matches(project, verdict, 1)


@pytest.mark.backends
def test_data_impact_of_empty_strings_and_the_revert_of_an_index(make_project: MakeProject, backend: str) -> None:
    """A text column holding only empty strings is "N rows (all empty)", not data; reverting
    AddIndex drops the index (it says so, instead of "revert: Create index ...")."""
    ops = [
        "migrations.AddField('item', 'code', models.CharField(max_length=5, default=''))",
        "migrations.AddIndex('item', models.Index(fields=['note'], name='item_note_idx'))",
    ]
    project = migrated(make_project, shop([NOTE], Step(ops)))
    insert(project, "note, code", ("a", ""), ("b", ""))
    verdict = only(check(project, 2))
    assert verdict["effects"] == ["drop index item_note_idx on item", f"drop column {TABLE}.code"]
    assert verdict["data_loss"] == [f"drops column {TABLE}.code (2 rows (all empty))"]
    project.db.execute(f"UPDATE {TABLE} SET code = 'x' WHERE note = 'a'")
    assert only(check(project, 2))["data_loss"] == [f"drops column {TABLE}.code (2 rows with a non-NULL value)"]
    assert_revert_matches(project, verdict, 1)


# --------------------------------------------------------------------------- atomicity, clean steps


@pytest.mark.backends
def test_non_atomic_steps(make_project: MakeProject, backend: str) -> None:
    apps = shop(
        [NOTE],
        Step(["migrations.AddField('item', 'a', models.IntegerField(null=True))"], atomic=False),
        Step(["migrations.RunPython(forwards, backwards, atomic=False)"]),
        Step(["migrations.RunSQL('SELECT 1', reverse_sql=\"SELECT 'no VACUUM here'\")"]),
        Step(["migrations.RunPython(forwards, backwards, atomic=True)"]),
    )
    project = migrated(make_project, apps)
    checks = check(project, 5, 4, 3, 2)
    assert [c["atomic"] for c in checks] == [True, False, False, False]
    assert all(c["blockers"] == [] for c in checks)


@pytest.mark.backends
def test_clean_reversible_step(make_project: MakeProject, backend: str) -> None:
    ops = [
        "migrations.AddField('item', 'extra', models.CharField(max_length=5, null=True))",
        "migrations.RunPython(forwards, backwards)",
        "migrations.RunPython(forwards, migrations.RunPython.noop)",
        "migrations.RunSQL('SELECT 1', migrations.RunSQL.noop)",
        "migrations.RemoveField('item', 'old')",
    ]
    project = migrated(make_project, shop([NOTE, "('old', models.IntegerField(default=0))"], Step(ops)))
    insert(project, "note", ("a",), ("b",))

    verdict = only(check(project, 2))
    assert verdict == {
        "key": f"{APP}.{step_name(2)}",
        "effects": [
            f"re-add column {TABLE}.old (comes back holding its default)",
            "no-op (RunSQL.noop; changes of SELECT 1 stay)",
            "no-op (RunPython.noop; data changes of forwards stay)",
            "run reverse of RunPython forwards (backwards)",
            f"drop column {TABLE}.extra",
        ],
        "blockers": [],
        "data_loss": [f"drops column {TABLE}.extra (0 rows with a non-NULL value)"],
        "atomic": True,
        "uncertain": [],  # the RunPython reverse is of the same step: the step starts from today's data
    }


@pytest.mark.backends
def test_clean_field_removal_is_not_blocked(make_project: MakeProject, backend: str) -> None:
    """A NOT NULL field with a default comes back filled, whatever the row count."""
    apps = shop([NOTE, "('old', models.IntegerField(default=0))"], Step(["migrations.RemoveField('item', 'old')"]))
    project = migrated(make_project, apps)
    insert(project, "note", ("a",), ("b",))
    verdict = only(check(project, 2))
    assert verdict["effects"] == [f"re-add column {TABLE}.old (comes back holding its default)"]
    assert verdict["blockers"] == []
    assert_revert_matches(project, verdict, 1)


def test_merge_migration(make_project: MakeProject) -> None:
    item = "migrations.CreateModel('Item', [('id', models.BigAutoField(primary_key=True))])"
    apps = {
        APP: {
            "0001_initial": migration(ops=[item]),
            "0002_a": migration(deps=[(APP, "0001_initial")]),
            "0002_b": migration(deps=[(APP, "0001_initial")]),
            "0003_merge": migration(deps=[(APP, "0002_a"), (APP, "0002_b")]),
        }
    }
    project = migrated(make_project, apps)
    (project.root / "preflight_driver.py").write_text(DRIVER)
    r = project.run([sys.executable, "preflight_driver.py", f"{APP}.0003_merge", f"{APP}.0002_b"])
    assert r.ok, r
    merge, empty = json.loads(r.stdout)["checks"]
    assert merge["effects"] == ["merge (no operations)"]
    assert empty["effects"] == ["no operations"]
    assert merge["atomic"] and not merge["blockers"] and not merge["data_loss"]


# --------------------------------------------------------------------------- data as the plan leaves it

FILL_NOTES = """
def fill_notes(apps, schema_editor):
    apps.get_model("shop", "Item").objects.filter(note__isnull=True).update(note="filled")
"""
NULLABLE_NOTE = "migrations.AlterField('item', 'note', models.CharField(max_length=20, null=True))"


@pytest.mark.backends
@pytest.mark.parametrize(
    "reverse, touches, revert_ok",
    [
        ("migrations.RunPython(forwards, fill_notes)", "runs RunPython fill_notes", True),
        (f"migrations.RunSQL('SELECT 1', \"UPDATE {TABLE} SET note = 'x' WHERE note IS NULL\")", "UPDATE", True),
        (f"migrations.RunSQL('SELECT 1', 'UPDATE {TABLE} SET note = note')", "UPDATE", False),
        ("migrations.RunSQL('SELECT 1', 'UPDATE shop_other SET id = id')", None, False),
    ],
    ids=["runpython-fills", "runsql-fills", "runsql-leaves-nulls", "runsql-other-table"],
)
def test_a_later_data_migration_makes_a_data_check_uncertain(
    make_project: MakeProject, backend: str, reverse: str, touches: str | None, revert_ok: bool
) -> None:
    """The issue's false blocker: a later migration's reverse fills the NULLs before NOT NULL
    comes back.  Whether it does, only running it tells: uncertain, not blocked, not counted.
    Reverse SQL that names another table leaves the check (and its blocker) as it was."""
    other = "migrations.CreateModel('Other', [('id', models.BigAutoField(primary_key=True))])"
    project = migrated(make_project, shop([NOTE], Step([NULLABLE_NOTE, other]), Step([reverse], preamble=FILL_NOTES)))
    insert(project, "note", ("kept",), (None,))

    later, earlier = check(project, 3, 2)
    assert later["blockers"] == [] and later["uncertain"] == []
    about_item = [u for u in earlier["uncertain"] if u.startswith(f"rows of {TABLE} ")]
    if touches is None:
        assert about_item == [] and len(earlier["blockers"]) == 1
    else:
        assert earlier["blockers"] == [], earlier
        (uncertain,) = about_item
        assert uncertain.startswith(f"rows of {TABLE} not counted: it depends on step 1 (shop.0003_step), which ")
        assert touches in uncertain and "--rehearse" in uncertain
    assert project.manage("migrate", APP, step_name(1)).ok == revert_ok


@pytest.mark.backends
def test_a_table_dropped_by_an_earlier_step_is_empty_by_then(make_project: MakeProject, backend: str) -> None:
    """Today's NULL rows are in the table the plan drops first: NOT NULL comes back over none."""
    item_again = (
        "migrations.CreateModel('Item', [('id', models.BigAutoField(primary_key=True)), "
        "('note', models.CharField(max_length=20, null=True))])"
    )
    project = migrated(
        make_project, shop([NOTE], Step([NULLABLE_NOTE]), Step(["migrations.DeleteModel('item')"]), Step([item_again]))
    )
    insert(project, "note", (None,))

    _, deleted, nullable = check(project, 4, 3, 2)
    assert deleted["effects"] == [f"recreate table {TABLE} (comes back empty)"]
    assert nullable["blockers"] == [] and nullable["uncertain"] == []
    assert nullable["effects"] == [
        f"restore NOT NULL on {TABLE}.note (depends on step 2 (shop.0003_step), which re-creates {TABLE} empty: "
        f"{TABLE} is empty by then)"
    ]
    assert project.manage("migrate", APP, step_name(1)).ok


@pytest.mark.backends
def test_a_column_renamed_back_by_an_earlier_step_is_uncertain(make_project: MakeProject, backend: str) -> None:
    """Today the NULLs are in ``remark``; the plan renames it back to ``note`` before NOT NULL
    comes back.  Counting today's ``note`` (there is none) said "passes"; the revert fails."""
    project = migrated(
        make_project, shop([NOTE], Step([NULLABLE_NOTE]), Step(["migrations.RenameField('item', 'note', 'remark')"]))
    )
    insert(project, "remark", (None,))

    _, nullable = check(project, 3, 2)
    assert nullable["blockers"] == []
    assert nullable["uncertain"] == [
        f"rows of {TABLE} not counted: it depends on step 1 (shop.0003_step), which renames {TABLE}.note, "
        "so today's rows do not tell; run with --rehearse for the exact answer."
    ]
    assert not project.manage("migrate", APP, step_name(1)).ok
