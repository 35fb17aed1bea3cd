"""Rolling back after the code was downgraded (README: "Rolling back after the code was downgraded").

The newer release (v2) is applied, its migration files are then deleted (the
older code, v1, is what runs now), and ``migtool rollback`` must still undo
v2 from the sources the database stores.  Outcomes are read from the
database: ``django_migrations``, the schema and the surviving rows, compared
with a fresh ``migrate`` of v1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

import pytest
from projects import Project, Result, migration
from scenarios import (
    CAT,
    ITEM,
    SQUASH,
    Apps,
    add_field,
    create_model,
    linear,
)
from test_rollback import EXIT_OK, EXIT_RESTORED, assert_refused_untouched, snapshot_db

MakeProject = Callable[..., Project]
NULL_INT = "models.IntegerField(null=True)"

FILL = """
def fill(apps, schema_editor):
    apps.get_model("shop", "Item").objects.update(qty=models.F("qty") + 100)


def unfill(apps, schema_editor):
    apps.get_model("shop", "Item").objects.update(qty=models.F("qty") - 100)
"""


def v1_apps() -> Apps:
    """shop: 0001_a (Item), 0002_b (Item.b); q: 0001_q, 0002_f2.  Release 1.0."""
    f2 = add_field("Q", "f2", "models.IntegerField(null=True)")
    return {
        "shop": linear("shop", {"0001_a": [ITEM], "0002_b": [add_field("Item", "b", NULL_INT)]}),
        "q": linear("q", {"0001_q": [create_model("Q")], "0002_f2": [f2]}),
    }


def v2_apps() -> Apps:
    """v1 plus, in one project, every shape the rollback from v1 must handle:

    * shop: the parallel branch 0002_c (Cat) and the merge 0003_d, then 0004_fill,
      a RunPython whose reverse_code is defined in the migration file;
    * other (an app v1 does not install): 0001_x with an FK to shop.Cat, after shop.0002_c;
    * q: 0003_f3, a squash of 0001_q..0003_f3 added in v2, and 0004_f4 after the squash.
    """
    apps = v1_apps()
    apps["shop"] |= {
        "0002_c": migration(deps=[("shop", "0001_a")], ops=[CAT]),
        "0003_d": migration(deps=[("shop", "0002_b"), ("shop", "0002_c")]),
        "0004_fill": migration(
            deps=[("shop", "0003_d")], ops=["migrations.RunPython(fill, reverse_code=unfill)"], preamble=FILL
        ),
    }
    apps["other"] = {
        "0001_x": migration(
            deps=[("shop", "0002_c")],
            ops=[create_model("X", cat="models.ForeignKey('shop.Cat', on_delete=models.CASCADE)")],
            initial=True,
        )
    }
    f3 = add_field("Q", "f3", "models.IntegerField(null=True)")
    squashed = create_model("Q", f2="models.IntegerField(null=True)", f3="models.IntegerField(null=True)")
    apps["q"] |= {
        "0003_f3": migration(deps=[("q", "0002_f2")], ops=[f3]),
        SQUASH: migration(ops=[squashed], replaces=[("q", n) for n in ("0001_q", "0002_f2", "0003_f3")], initial=True),
        "0004_f4": migration(deps=[("q", SQUASH)], ops=[add_field("Q", "f4", "models.IntegerField(null=True)")]),
    }
    return apps


def deploy(project: Project, apps: Apps) -> None:
    """Make ``apps`` the code on disk: add what is new, delete files and apps it lacks."""
    for label in list(project.apps):
        if label not in apps:
            del project.apps[label]
            shutil.rmtree(project.root / label)
        else:
            for name in list(project.apps[label]):
                if name not in apps[label]:
                    project.remove_migration(label, name)
    for label, migrations in apps.items():
        if label not in project.apps:
            project.add_app(label, migrations)
        for name, source in migrations.items():
            if project.apps[label].get(name) != source:
                project.write_migration(label, name, source)
    project.write_settings()


def ok(result: Result) -> None:
    assert result.code == EXIT_OK, result


def project_state(project: Project) -> tuple[set[tuple[str, str]], dict[str, set[str]]]:
    """Recorded migrations and every project table's columns (migtool's own tables left out)."""
    tables = {t for t in project.db.tables() if not t.startswith("migtool_") and t != "django_migrations"}
    return project.db.applied(), {t: project.db.columns(t) for t in tables}


def uncaptured_apps(project: Project) -> set[str]:
    """The apps ``doctor --database`` reports applied migrations without a stored source for."""
    doctor = project.migtool("doctor", "--database", "default", "--format", "json")
    return {f["subject"] for f in json.loads(doctor.stdout)["findings"] if f["code"] == "no-stored-source"}


@pytest.mark.backends
@pytest.mark.parametrize("applied_by", ["migrate-safe", "migrate+capture", "rollback --last"])
def test_rollback_from_older_code_equals_fresh_v1_migrate(
    make_project: MakeProject, backend: str, applied_by: str
) -> None:
    """v1, then v2 applied; v2's files deleted; the rollback from v1 ends where a fresh v1 migrate does."""
    project = make_project(v1_apps())
    ok(project.migtool("freeze", "--release", "1.0"))

    def apply() -> Result:
        return project.manage("migrate") if applied_by == "migrate+capture" else project.migtool("migrate-safe")

    ok(apply())
    fresh_v1 = project_state(project)  # the database was empty: this is what a fresh migrate of v1 gives
    project.db.execute("INSERT INTO shop_item (name, qty, b) VALUES ('pen', 3, 7)")
    project.db.execute("INSERT INTO q_q (f2) VALUES (5)")
    deploy(project, v2_apps())
    ok(apply())
    if applied_by == "migrate+capture":
        assert uncaptured_apps(project) == {"shop", "q", "other"}
        captured = project.migtool("capture", "--format", "json")
        ok(captured)
        assert json.loads(captured.stdout)["stored"] == 11  # v1's 4 and v2's 7: every applied migration on disk
        assert uncaptured_apps(project) == set()
    assert project.db.rows("SELECT qty FROM shop_item") == [(103,)]
    project.db.execute("INSERT INTO shop_cat (name) VALUES ('tabby')")

    deploy(project, v1_apps())  # the older code: v2's files and the app 'other' are gone
    target = ["--last"] if applied_by == "rollback --last" else ["1.0"]
    if applied_by == "migrate-safe":  # the read-only commands see the stored migrations and change nothing
        before = snapshot_db(project)
        status = project.migtool("status", "--format", "json")
        ok(status)
        apps = {a["app"]: a for a in json.loads(status.stdout)["apps"]}
        assert apps["other"]["from_stored_source"] == ["0001_x"] and apps["other"]["ghosts"] == []
        assert len(apps["shop"]["captured"]) == len(apps["shop"]["applied"]) == 5
        dry = project.migtool("rollback", *target, "--dry-run", "--format", "json")
        ok(dry)
        steps = {s["migration"]: s["source"] for s in json.loads(dry.stdout)["steps"]}
        expected = {"shop.0004_fill", "shop.0003_d", "shop.0002_c", "other.0001_x", "q.0004_f4", "q.0003_f3"}
        assert steps == dict.fromkeys(expected, "stored")
        sql = project.migtool("rollback", *target, "--sql")
        ok(sql)
        assert "-- Unapply other.0001_x" in sql.stdout and "other_x" in sql.stdout
        assert snapshot_db(project) == before

    ok(project.migtool("rollback", *target, "--yes"))
    assert project_state(project) == fresh_v1
    assert project.db.rows("SELECT name, qty, b FROM shop_item") == [("pen", 3, 7)]  # unfill ran from the store
    assert project.db.rows("SELECT f2 FROM q_q") == [(5,)]


REFUSAL_V2_FIELDS = "from django.db import models\n\n\nclass PriceField(models.IntegerField):\n    pass\n"


@pytest.mark.backends
def test_refusals_name_every_reason_and_touch_nothing(make_project: MakeProject, backend: str) -> None:
    """A stored migration importing a module v1 lacks, an applied migration never
    captured, and a stored squash whose replaced migrations are on disk."""
    v1 = {"shop": v1_apps()["shop"]}
    project = make_project(v1)
    ok(project.migtool("freeze", "--release", "1.0"))
    ok(project.migtool("migrate-safe"))
    v2 = {"shop": dict(v1["shop"])}
    v2["shop"]["0003_price"] = migration(
        deps=[("shop", "0002_b")],
        ops=[add_field("Item", "price", "shop.fields.PriceField(null=True)")],
        preamble="import shop.fields",
    )
    v2["shop"]["0001_squashed_0002_b"] = migration(
        ops=[
            create_model(
                "Item",
                name="models.CharField(max_length=10)",
                qty="models.IntegerField()",
                b="models.IntegerField(null=True)",
            )
        ],
        replaces=[("shop", "0001_a"), ("shop", "0002_b")],
        initial=True,
    )
    (project.root / "shop" / "fields.py").write_text(REFUSAL_V2_FIELDS)
    deploy(project, v2)
    ok(project.migtool("migrate-safe"))
    ok(project.migtool("capture"))  # stores the squash (its row was recorded by Django)
    deploy(
        project,
        {
            "shop": {
                **v2["shop"],
                "0004_note": migration(
                    deps=[("shop", "0003_price")], ops=[add_field("Item", "note", "models.TextField(null=True)")]
                ),
            }
        },
    )
    ok(project.manage("migrate"))  # 0004_note: applied outside migtool, never captured
    (project.root / "shop" / "fields.py").unlink()
    deploy(project, v1)

    before = snapshot_db(project)
    reasons = (
        "shop.0003_price",
        "No module named 'shop.fields'",
        "shop.0004_note",
        "neither on disk nor stored",
        "shop.0001_squashed_0002_b",
        "every migration it replaces is on disk",
    )
    assert_refused_untouched(project, project.migtool("rollback", "1.0", "--dry-run"), before, *reasons)
    assert_refused_untouched(project, project.migtool("rollback", "1.0", "--yes"), before, *reasons)

    # An edit of a file the database applied from another source is drift.
    project.write_migration("shop", "0002_b", v1["shop"]["0002_b"] + "# edited\n")
    doctor = project.migtool("doctor", "--database", "default", "--format", "json")
    assert doctor.code == 1, doctor
    findings = {(f["code"], f["subject"]) for f in json.loads(doctor.stdout)["findings"]}
    assert {
        ("stored-source-broken", "shop.0003_price"),
        ("stored-squash-on-disk", "shop.0001_squashed_0002_b"),
        ("ghost-row", "shop.0004_note"),
        ("drift-edited", "shop.0002_b"),
    } <= findings
    assert any("differs from the source stored" in f["message"] for f in json.loads(doctor.stdout)["findings"])
    assert snapshot_db(project) == before


def test_failing_stored_reverse_shows_stored_source_in_traceback(make_project: MakeProject) -> None:
    """On SQLite only: where the traceback points does not depend on the backend."""
    v1 = {"shop": linear("shop", {"0001_a": [ITEM]})}
    boom = "def boom(apps, schema_editor):\n    raise RuntimeError('reverse failed in the stored source')\n"
    v2 = {
        "shop": {
            **v1["shop"],
            "0002_boom": migration(
                deps=[("shop", "0001_a")],
                ops=["migrations.RunPython(migrations.RunPython.noop, reverse_code=boom)"],
                preamble=boom,
            ),
        }
    }
    project = make_project(v1)
    ok(project.migtool("freeze", "--release", "1.0"))
    deploy(project, v2)
    ok(project.migtool("migrate-safe"))
    deploy(project, v1)
    # The traceback (--traceback) shows the line of the stored source that raised.
    failed = project.migtool("rollback", "1.0", "--yes", "--traceback")
    assert failed.code == EXIT_RESTORED and "reverse failed in the stored source" in failed.stderr, failed
    assert "raise RuntimeError('reverse failed in the stored source')" in failed.stderr, failed
    assert ("shop", "0002_boom") in project.db.applied()


LEGACY_THING = "from django.db import models\n\n\nclass Thing(models.Model):\n    pass\n"
THING_FK = "models.ForeignKey('legacy.Thing', models.SET_NULL, null=True, db_constraint=False)"
THING_CHILD = (
    "migrations.CreateModel('Special', [('thing_ptr', models.OneToOneField('legacy.Thing', models.CASCADE, "
    "parent_link=True, auto_created=True, primary_key=True, serialize=False, db_constraint=False))], "
    "bases=('legacy.thing',))"
)
UNRENDERABLE = "shop.0003_thing: the project state does not render with today's code once its stored source is applied"


def refused_unrenderable(make_project: MakeProject, operation: str, cause: str, row: str) -> None:
    """v2's stored shop.0003_thing (``operation``) needs legacy.Thing, a model of an app
    without migrations (its models come from today's code), which v1 lacks: it imports
    with v1's code, but the state does not render once it is applied.  ``rollback
    --dry-run`` and ``--yes`` refuse on one line naming it and ``cause``, and touch nothing."""
    v1 = {"shop": v1_apps()["shop"]}
    project = make_project(v1, extra_settings='INSTALLED_APPS += ["legacy"]')
    (project.root / "legacy").mkdir()
    (project.root / "legacy" / "__init__.py").write_text("")
    (project.root / "legacy" / "models.py").write_text("")
    ok(project.migtool("freeze", "--release", "1.0"))
    ok(project.migtool("migrate-safe"))
    v2 = {
        "shop": {
            **v1["shop"],
            "0003_thing": migration(deps=[("shop", "0002_b"), ("legacy", "__first__")], ops=[operation]),
        }
    }
    (project.root / "legacy" / "models.py").write_text(LEGACY_THING)
    deploy(project, v2)
    ok(project.migtool("migrate-safe"))
    project.db.execute(row)
    (project.root / "legacy" / "models.py").write_text("")
    deploy(project, v1)

    before = snapshot_db(project)
    doctor = project.migtool("doctor", "--database", "default", "--format", "json")
    assert doctor.code == 1, doctor
    findings = {(f["code"], f["subject"]) for f in json.loads(doctor.stdout)["findings"]}
    assert ("stored-source-broken", "shop.0003_thing") in findings, doctor
    for args in (["--dry-run"], ["--yes"]):
        refused = project.migtool("rollback", "1.0", *args)
        assert_refused_untouched(project, refused, before)
        reason = [line for line in refused.stderr.splitlines() if UNRENDERABLE in line]
        assert len(reason) == 1 and cause in reason[0], refused
        assert "Traceback" not in refused.stderr, refused
        assert args == ["--yes"] or ", not checked," in " ".join(refused.stdout.split()), refused
    assert ("shop", "0003_thing") in project.db.applied()


@pytest.mark.backends
def test_stored_foreign_key_to_a_model_gone_from_the_older_code_is_refused(
    make_project: MakeProject, backend: str
) -> None:
    """Re-rendering leaves the relation pending instead of raising; the refusal must still come."""
    row = "INSERT INTO shop_item (name, qty, b, thing_id) VALUES ('pen', 3, 7, 1)"
    refused_unrenderable(make_project, add_field("Item", "thing", THING_FK), "lazy reference to 'legacy.thing'", row)


def test_stored_model_whose_base_is_gone_from_the_older_code_is_refused(make_project: MakeProject) -> None:
    """On SQLite only: rendering raises (the base cannot be resolved), whatever the backend."""
    row = "INSERT INTO shop_special (thing_ptr_id) VALUES (1)"
    refused_unrenderable(make_project, THING_CHILD, "InvalidBasesError: Cannot resolve bases", row)


def test_a_step_whose_file_differs_from_its_stored_source_is_drift(make_project: MakeProject) -> None:
    """On SQLite only (the rule does not depend on the backend): migrate-safe applied and stored
    shop.0002_b, then its file changed.  No release froze it, so only the stored source shows
    that reverting the file would run code that never ran forwards: refused until --allow-drift."""
    project = make_project({"shop": linear("shop", {"0001_a": [ITEM]})})
    ok(project.migtool("freeze", "--release", "1.0"))
    project.write_migration(
        "shop", "0002_b", migration(deps=[("shop", "0001_a")], ops=[add_field("Item", "b", NULL_INT)])
    )
    ok(project.migtool("migrate-safe"))
    project.write_migration("shop", "0002_b", project.apps["shop"]["0002_b"] + "# edited\n")

    before = snapshot_db(project)
    refused = project.migtool("rollback", "1.0", "--yes")
    assert_refused_untouched(project, refused, before, "shop.0002_b", "differs from the source stored", "--allow-drift")
    ok(project.migtool("rollback", "1.0", "--yes", "--allow-drift"))
    assert ("shop", "0002_b") not in project.db.applied() and "b" not in project.db.columns("shop_item")


@pytest.mark.backends
def test_a_failure_to_store_sources_is_a_warning_and_the_run_stands(make_project: MakeProject, backend: str) -> None:
    """A table named migtool_source that is not migtool's: storing the sources fails, and the
    migrate-safe run still succeeds, its rows and schema kept, with a warning saying what to do."""
    project = make_project({"shop": linear("shop", {"0001_a": [ITEM]})})
    project.db.execute("CREATE TABLE migtool_source (id integer)")
    applied = project.migtool("migrate-safe")
    ok(applied)
    assert "could not be stored in the database" in applied.stderr and "'migtool capture'" in applied.stderr, applied
    assert ("shop", "0001_a") in project.db.applied() and "qty" in project.db.columns("shop_item")
    assert project.db.rows("SELECT COUNT(*) FROM migtool_source") == [(0,)]
