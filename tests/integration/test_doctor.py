"""Integration tests of ``migtool doctor`` and of ``rollback --allow-drift`` (issue #5).

One real Django project per finding: the code and release-file checks run on
SQLite without ``--database`` (and must not even create the database file);
the recorded-state checks run on every backend, each followed by a check that
doctor changed nothing in the database (no journal tables created, rows as
they were).  Findings are read from ``--format json`` as ``(severity, code,
subject)``; exit codes are 0 without an error, 1 with one (with ``--strict``,
also with a warning).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from projects import Project, Result, migration

MakeProject = Callable[..., Project]
Triple = tuple[str, str, str]

EXIT_OK, EXIT_FINDINGS, EXIT_REFUSED = 0, 1, 4


# --------------------------------------------------------------------------- helpers


def mig(name: str, *deps: str, app: str = "shop", **kwargs: Any) -> str:
    """An operation-less migration of ``app`` whose bytes are its own (a comment names it).
    ``deps`` are ``"name"`` (same app) or ``"app.name"``."""
    return migration(
        deps=[tuple(d.split(".", 1)) if "." in d else (app, d) for d in deps],
        preamble=f"# {app}.{name}",
        **kwargs,
    )


def run_python(name: str, *deps: str, reverse: bool = False, app: str = "shop", **kwargs: Any) -> str:
    """A data migration; without ``reverse`` it has no reverse_code (irreversible)."""
    op = "migrations.RunPython(forwards, migrations.RunPython.noop)" if reverse else "migrations.RunPython(forwards)"
    return migration(
        deps=[(app, d) for d in deps],
        ops=[op],
        preamble=f"# {app}.{name}\ndef forwards(apps, schema_editor):\n    pass\n",
        **kwargs,
    )


def doctor(project: Project, *args: str) -> tuple[Result, dict[str, Any]]:
    """Run ``doctor --format json``; check the payload agrees with the exit code."""
    result = project.migtool("doctor", "--format", "json", *args)
    assert result.code in (EXIT_OK, EXIT_FINDINGS), result
    payload = json.loads(result.stdout)
    assert payload["kind"] == "doctor", result
    assert payload["ok"] is (result.code == EXIT_OK), result
    counts = {level: sum(f["severity"] == level for f in payload["findings"]) for level in ("error", "warning", "info")}
    assert payload["counts"] == counts, result
    for finding in payload["findings"]:
        assert finding["message"] and finding["why"] and finding["fix"], finding
    return result, payload


def triples(payload: dict[str, Any]) -> list[Triple]:
    return [(f["severity"], f["code"], f["subject"]) for f in payload["findings"]]


def finding(payload: dict[str, Any], code: str, subject: str) -> dict[str, Any]:
    (found,) = [f for f in payload["findings"] if f["code"] == code and f["subject"] == subject]
    return found


def assert_no_database_touched(project: Project) -> None:
    """Code and release-file checks need no database: on SQLite the file is never created."""
    if project.db.backend == "sqlite":
        assert not Path(project.db.name).exists(), "doctor without --database created the SQLite file"


def freeze(project: Project, release: str) -> None:
    result = project.migtool("freeze", "--release", release)
    assert result.code == EXIT_OK, result


def manage_migrate(project: Project, *args: str) -> None:
    result = project.manage("migrate", *args, "-v", "0")
    assert result.code == EXIT_OK, result


def insert_row(project: Project, app: str, name: str) -> None:
    project.db.execute(
        "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, CURRENT_TIMESTAMP)", (app, name)
    )


def database_state(project: Project) -> tuple[Any, ...]:
    """Everything doctor could change: tables, recorded rows (duplicates kept), journal rows, lock file."""
    db = project.db
    tables = db.tables()
    recorded = sorted(db.rows("SELECT app, name FROM django_migrations")) if "django_migrations" in tables else []
    runs = sorted(db.rows("SELECT id, status, finished_at FROM migtool_run")) if "migtool_run" in tables else []
    lock = db.backend == "sqlite" and Path(f"{db.name}.migtool-lock").exists()
    return tables, recorded, runs, lock


def doctor_database(project: Project, *args: str) -> tuple[Result, dict[str, Any]]:
    """``doctor --database default``, asserting it is read-only."""
    before = database_state(project)
    result, payload = doctor(project, "--database", "default", *args)
    assert payload["database"] == "default"
    assert database_state(project) == before, "doctor --database changed the database"
    # These databases are migrated by plain migrate, so each has no-stored-source
    # findings; the checks here are about the others (test_downgraded_code.py has that one).
    payload["findings"] = [f for f in payload["findings"] if f["code"] != "no-stored-source"]
    return result, payload


# --------------------------------------------------------------------------- code


def test_conflicting_leaves(make_project: MakeProject):
    project = make_project(
        {"shop": {"0001_a": mig("0001_a"), "0002_b": mig("0002_b", "0001_a"), "0002_c": mig("0002_c", "0001_a")}}
    )
    result, payload = doctor(project)
    assert result.code == EXIT_FINDINGS
    assert triples(payload) == [("error", "conflicting-leaves", "shop")]
    found = finding(payload, "conflicting-leaves", "shop")
    assert "0002_b, 0002_c" in found["message"]
    assert found["fix"] == "python manage.py makemigrations --merge shop"
    assert_no_database_touched(project)


def test_replaces_missing(make_project: MakeProject):
    """The patch-branch trick: a warning, so exit 0, but 1 with --strict."""
    project = make_project(
        {
            "bj": {
                "0001_initial": mig("0001_initial", app="bj"),
                "0002_mainline_x": mig("0002_mainline_x", "0001_initial", app="bj"),
                "0003_add_y": mig("0003_add_y", "0002_mainline_x", app="bj", replaces=[("bj", "0002_patch_add_y")]),
            }
        }
    )
    result, payload = doctor(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [("warning", "replaces-missing", "bj.0003_add_y")]
    assert "bj.0002_patch_add_y" in payload["findings"][0]["message"]
    result, payload = doctor(project, "--strict")
    assert result.code == EXIT_FINDINGS
    assert triples(payload) == [("warning", "replaces-missing", "bj.0003_add_y")]
    assert_no_database_touched(project)


def test_replaced_twice(make_project: MakeProject):
    placeholder = [("bj", "0001_placeholder_patch")]
    project = make_project(
        {
            "bj": {
                "0001_initial": mig("0001_initial", app="bj"),
                "0002_a": mig("0002_a", "0001_initial", app="bj", replaces=placeholder),
                "0003_b": mig("0003_b", "0002_a", app="bj", replaces=placeholder),
            }
        }
    )
    result, payload = doctor(project)
    assert result.code == EXIT_FINDINGS
    assert triples(payload) == [
        ("error", "replaced-twice", "bj.0001_placeholder_patch"),
        ("warning", "replaces-missing", "bj.0002_a"),
        ("warning", "replaces-missing", "bj.0003_b"),
    ]
    message = finding(payload, "replaced-twice", "bj.0001_placeholder_patch")["message"]
    assert "bj.0002_a" in message and "bj.0003_b" in message


def test_squash_partly_on_disk(make_project: MakeProject):
    """The squash replaces 0001_a and 0002_b; 0002_b was deleted, 0001_a kept."""
    project = make_project(
        {
            "shop": {
                "0001_a": mig("0001_a"),
                "0001_squashed_0002_b": mig("0001_squashed_0002_b", replaces=[("shop", "0001_a"), ("shop", "0002_b")]),
                "0003_c": mig("0003_c", "0001_squashed_0002_b"),
            }
        }
    )
    result, payload = doctor(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [("warning", "squash-partly-on-disk", "shop.0001_squashed_0002_b")]
    assert "shop.0002_b" in payload["findings"][0]["message"]


def test_irreversible_migrations_per_release_boundary(make_project: MakeProject):
    """Releases 1.9 then 1.10 (ordered as versions): an irreversible migration between them
    is INFO, one after the newest release is a WARNING; reversible ones are not reported."""
    project = make_project({"shop": {"0001_initial": run_python("0001_initial")}})  # inside the oldest release
    freeze(project, "1.9")
    project.write_migration("shop", "0002_backfill", run_python("0002_backfill", "0001_initial"))
    freeze(project, "1.10")
    project.write_migration("shop", "0003_cleanup", run_python("0003_cleanup", "0002_backfill"))
    project.write_migration("shop", "0004_noop", run_python("0004_noop", "0003_cleanup", reverse=True))
    project.write_migration(
        "shop",
        "0005_state",
        migration(
            deps=[("shop", "0004_noop")],
            ops=['migrations.SeparateDatabaseAndState(database_operations=[migrations.RunSQL("SELECT 1")])'],
        ),
    )
    result, payload = doctor(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [
        ("warning", "irreversible-after-release", "shop.0003_cleanup"),
        ("warning", "irreversible-after-release", "shop.0005_state"),
        ("info", "irreversible-after-release", "shop.0002_backfill"),
    ]
    hidden = finding(payload, "irreversible-after-release", "shop.0005_state")["message"]
    assert "RunSQL (SELECT 1) inside SeparateDatabaseAndState has no reverse_sql" in hidden
    after = finding(payload, "irreversible-after-release", "shop.0003_cleanup")["message"]
    between = finding(payload, "irreversible-after-release", "shop.0002_backfill")["message"]
    assert "between release 1.10 and the code on disk" in after
    assert "RunPython forwards has no reverse_code" in after
    assert "between release 1.9 and 1.10" in between
    result, _ = doctor(project, "--strict")
    assert result.code == EXIT_FINDINGS
    assert_no_database_touched(project)


def test_squash_of_released_irreversible_migrations_is_not_irreversible_after_the_release(
    make_project: MakeProject,
):
    project = make_project({"shop": {"0001_a": run_python("0001_a"), "0002_b": mig("0002_b", "0001_a")}})
    freeze(project, "1.0")
    project.write_migration(
        "shop",
        "0001_squashed_0002_b",
        run_python("0001_squashed_0002_b", replaces=[("shop", "0001_a"), ("shop", "0002_b")]),
    )
    manage_migrate(project)
    result = project.migtool("rollback", "1.0", "--dry-run")
    assert result.code == EXIT_OK and "Nothing to roll back" in result.stderr, result
    result, payload = doctor(project, "--strict")
    assert triples(payload) == []
    assert result.code == EXIT_OK


def test_non_atomic_migration_is_info_only(make_project: MakeProject):
    project = make_project(
        {
            "shop": {
                "0001_initial": mig("0001_initial"),
                "0002_batches": run_python("0002_batches", "0001_initial", reverse=True, atomic=False),
            }
        }
    )
    result, payload = doctor(project, "--strict")
    assert result.code == EXIT_OK  # info never fails, not even with --strict
    assert triples(payload) == [("info", "non-atomic", "shop.0002_batches")]


def test_migrations_that_cannot_run_in_a_transaction(make_project: MakeProject):
    """AddIndexConcurrently (atomic = False, as Django requires) and a RunSQL with
    CREATE INDEX CONCURRENTLY left atomic (it would fail inside the transaction on PostgreSQL)."""
    project = make_project(
        {
            "shop": {
                "0001_initial": migration(
                    ops=[
                        'migrations.CreateModel("Item", [("id", models.AutoField(primary_key=True)), '
                        '("name", models.CharField(max_length=20))])'
                    ]
                ),
                "0002_index": migration(
                    deps=[("shop", "0001_initial")],
                    ops=['AddIndexConcurrently("item", models.Index(fields=["name"], name="shop_item_name_idx"))'],
                    atomic=False,
                    preamble="from django.contrib.postgres.operations import AddIndexConcurrently",
                ),
                "0003_sql_index": migration(
                    deps=[("shop", "0002_index")],
                    ops=[
                        'migrations.RunSQL("CREATE INDEX CONCURRENTLY shop_item_id_idx ON shop_item (id)", '
                        '"DROP INDEX CONCURRENTLY shop_item_id_idx")'
                    ],
                ),
            }
        }
    )
    result, payload = doctor(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [
        ("warning", "no-transaction", "shop.0002_index"),
        ("warning", "no-transaction", "shop.0003_sql_index"),
        ("info", "non-atomic", "shop.0002_index"),
    ]
    assert "AddIndexConcurrently" in finding(payload, "no-transaction", "shop.0002_index")["message"]
    assert "CREATE INDEX CONCURRENTLY" in finding(payload, "no-transaction", "shop.0003_sql_index")["message"]


def test_table_groups_findings_by_severity(make_project: MakeProject):
    """The table lists ERROR rows, then WARNING, then INFO; stderr sums them up."""
    project = make_project(
        {
            "shop": {
                "0001_a": mig("0001_a"),
                "0002_b": mig("0002_b", "0001_a"),
                "0002_c": mig("0002_c", "0001_a", atomic=False),
                "0003_d": migration(deps=[("shop", "0002_b")], ops=['migrations.RunSQL("VACUUM", "")']),
            }
        }
    )
    result = project.migtool("doctor")
    assert result.code == EXIT_FINDINGS, result
    severities = re.findall(r"^\W*(ERROR|WARNING|INFO)\b", result.stdout, flags=re.MULTILINE)
    assert severities == ["ERROR", "WARNING", "INFO"], result
    for code in ("conflicting-leaves", "no-transaction", "non-atomic"):
        assert code in result.stdout, result
    assert "doctor: 1 error(s), 1 warning(s), 1 info(s)" in result.stderr, result


# --------------------------------------------------------------------------- release files


def test_drift_edited(make_project: MakeProject):
    project = make_project({"shop": {"0001_a": mig("0001_a"), "0002_b": mig("0002_b", "0001_a")}})
    freeze(project, "1.0")
    project.write_migration("shop", "0002_b", project.apps["shop"]["0002_b"] + "# edited after 1.0\n")
    result, payload = doctor(project)
    assert result.code == EXIT_FINDINGS
    assert triples(payload) == [("error", "drift-edited", "shop.0002_b")]
    assert "release 1.0" in payload["findings"][0]["message"]
    assert_no_database_touched(project)


def test_drift_renamed(make_project: MakeProject):
    """0002_b becomes 0002_bee, bytes unchanged; 0003_c's dependency is updated (so it is edited)."""
    body = migration(deps=[("shop", "0001_a")], preamble="# the same bytes under either name")
    project = make_project({"shop": {"0001_a": mig("0001_a"), "0002_b": body, "0003_c": mig("0003_c", "0002_b")}})
    freeze(project, "1.0")
    project.remove_migration("shop", "0002_b")
    project.write_migration("shop", "0002_bee", body)
    project.write_migration("shop", "0003_c", mig("0003_c", "0002_bee"))
    result, payload = doctor(project)
    assert result.code == EXIT_FINDINGS
    assert triples(payload) == [("error", "drift-edited", "shop.0003_c"), ("error", "drift-renamed", "shop.0002_b")]
    assert "renamed: it is now shop.0002_bee" in finding(payload, "drift-renamed", "shop.0002_b")["message"]


def test_drift_moved_between_apps(make_project: MakeProject):
    """shop.0002_extra (depending on shop.0001 and billing.0001) moves, byte for byte, to billing."""
    extra = mig("0002_extra", "0001_initial", "billing.0001_initial")
    project = make_project(
        {
            "shop": {"0001_initial": mig("0001_initial"), "0002_extra": extra},
            "billing": {"0001_initial": mig("0001_initial", app="billing")},
        }
    )
    freeze(project, "1.0")
    project.remove_migration("shop", "0002_extra")
    project.write_migration("billing", "0002_extra", extra)
    result, payload = doctor(project)
    assert result.code == EXIT_FINDINGS
    assert triples(payload) == [("error", "drift-renamed", "shop.0002_extra")]
    assert "moved to another app: it is now billing.0002_extra" in payload["findings"][0]["message"]


def test_drift_deleted(make_project: MakeProject):
    project = make_project({"shop": {"0001_a": mig("0001_a"), "0002_b": mig("0002_b", "0001_a")}})
    freeze(project, "1.0")
    project.remove_migration("shop", "0002_b")
    result, payload = doctor(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [("warning", "drift-deleted", "shop.0002_b")]
    result, _ = doctor(project, "--strict")
    assert result.code == EXIT_FINDINGS


def squashed_away(make_project: MakeProject) -> Project:
    """Release 1.0 = {0001_a}; then 0002_b and the squash of both (release 2.0);
    the caller migrates (or not); then the originals are deleted."""
    project = make_project({"shop": {"0001_a": mig("0001_a")}})
    freeze(project, "1.0")
    project.write_migration("shop", "0002_b", mig("0002_b", "0001_a"))
    project.write_migration(
        "shop", "0001_squashed_0002_b", mig("0001_squashed_0002_b", replaces=[("shop", "0001_a"), ("shop", "0002_b")])
    )
    freeze(project, "2.0")
    return project


def test_unreachable_release(make_project: MakeProject):
    project = squashed_away(make_project)
    manage_migrate(project)
    project.remove_migration("shop", "0001_a")
    project.remove_migration("shop", "0002_b")
    result, payload = doctor_database(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [
        ("warning", "release-unreachable", "1.0"),
        ("warning", "replaces-missing", "shop.0001_squashed_0002_b"),
    ]
    message = finding(payload, "release-unreachable", "1.0")["message"]
    assert "shop.0001_squashed_0002_b" in message and "shop.0002_b" in message


def test_unreachable_release_without_a_database(make_project: MakeProject):
    project = squashed_away(make_project)
    project.remove_migration("shop", "0001_a")
    project.remove_migration("shop", "0002_b")
    _, payload = doctor(project)
    assert ("warning", "release-unreachable", "1.0") in triples(payload)


# --------------------------------------------------------------------------- recorded state, every backend


def two_apps() -> dict[str, dict[str, str]]:
    """shop.0002_more depends on shop.0001_initial and on billing.0001_initial."""
    return {
        "shop": {
            "0001_initial": mig("0001_initial"),
            "0002_more": mig("0002_more", "0001_initial", "billing.0001_initial"),
        },
        "billing": {"0001_initial": mig("0001_initial", app="billing")},
    }


@pytest.mark.backends
def test_ghost_rows(make_project: MakeProject, backend: str):
    project = make_project(two_apps())
    manage_migrate(project)
    insert_row(project, "shop", "0003_gone")
    insert_row(project, "legacy", "0001_initial")
    tables = project.db.tables()
    result, payload = doctor_database(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [
        ("warning", "ghost-row", "legacy.0001_initial"),
        ("warning", "ghost-row", "shop.0003_gone"),
    ]
    assert not {t for t in tables if t.startswith("migtool")}, "no journal before, and doctor created none"


@pytest.mark.backends
def test_duplicate_rows(make_project: MakeProject, backend: str):
    project = make_project(two_apps())
    manage_migrate(project)
    insert_row(project, "shop", "0001_initial")
    result, payload = doctor_database(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [("warning", "duplicate-rows", "shop.0001_initial")]
    assert "2 times" in payload["findings"][0]["message"]


@pytest.mark.backends
def test_inconsistent_history_names_the_exact_edges(make_project: MakeProject, backend: str):
    project = make_project(two_apps())
    manage_migrate(project)
    project.db.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", ("shop", "0001_initial"))
    project.db.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", ("billing", "0001_initial"))
    result, payload = doctor_database(project)
    assert result.code == EXIT_FINDINGS
    assert triples(payload) == [("error", "inconsistent-history", "shop.0002_more")] * 2
    messages = sorted(f["message"] for f in payload["findings"])
    assert messages == [
        "shop.0002_more is applied but its dependency billing.0001_initial is not.",
        "shop.0002_more is applied but its dependency shop.0001_initial is not.",
    ]


@pytest.mark.backends
def test_squash_partly_applied(make_project: MakeProject, backend: str):
    """Only 0001_a was applied when the squash of 0001_a and 0002_b arrived."""
    project = make_project({"shop": {"0001_a": mig("0001_a")}})
    manage_migrate(project)
    project.write_migration("shop", "0002_b", mig("0002_b", "0001_a"))
    project.write_migration(
        "shop", "0001_squashed_0002_b", mig("0001_squashed_0002_b", replaces=[("shop", "0001_a"), ("shop", "0002_b")])
    )
    result, payload = doctor_database(project)
    assert result.code == EXIT_OK
    assert triples(payload) == [("warning", "squash-partly-applied", "shop.0001_squashed_0002_b")]
    assert "1 of the 2" in payload["findings"][0]["message"]


def insert_run(project: Project, run_id: int, command: str, status: str) -> None:
    quote = "`" if project.db.backend == "mysql" else '"'
    project.db.execute(
        f"INSERT INTO migtool_run (id, command, direction, status, started_at, {quote}user{quote}, host, pid, "
        "migtool_version, django_version) VALUES (%s, %s, 'forwards', %s, CURRENT_TIMESTAMP, 'ci', 'ci-host', 1, "
        "'0', '5.2')",
        (run_id, command, status),
    )


@pytest.mark.backends
def test_interrupted_runs(make_project: MakeProject, backend: str):
    """The journal is created by a real migrate-safe run (run 1, succeeded); run 2 was killed
    (still 'running', nobody holds the lock), run 3 failed to restore, run 4 was restored."""
    project = make_project({"shop": {"0001_initial": mig("0001_initial")}})
    result = project.migtool("migrate-safe")
    assert result.code == EXIT_OK, result
    assert project.db.rows("SELECT id, status FROM migtool_run") == [(1, "succeeded")]
    insert_run(project, 2, "migrate-safe", "running")
    insert_run(project, 3, "rollback", "failed")
    insert_run(project, 4, "rollback", "restored")
    result, payload = doctor_database(project)  # also: the 'running' row is left as it is
    assert result.code == EXIT_OK
    assert triples(payload) == [("warning", "interrupted-run", "run 2"), ("warning", "interrupted-run", "run 3")]
    assert "migrate-safe" in payload["findings"][0]["message"]


def test_interrupted_run_resolved_by_a_later_successful_run(make_project: MakeProject):
    project = make_project({"shop": {"0001_initial": mig("0001_initial")}})
    assert project.migtool("migrate-safe").code == EXIT_OK
    insert_run(project, 2, "migrate-safe", "running")  # killed
    project.write_migration("shop", "0002_more", mig("0002_more", "0001_initial"))
    result = project.migtool("migrate-safe")  # the fix the finding advises
    assert result.code == EXIT_OK, result
    assert project.db.rows("SELECT id, status FROM migtool_run ORDER BY id") == [
        (1, "succeeded"),
        (2, "interrupted"),
        (3, "succeeded"),
    ]
    result, payload = doctor_database(project, "--strict")
    assert triples(payload) == []
    assert result.code == EXIT_OK


# --------------------------------------------------------------------------- a clean project


def clean_apps() -> dict[str, dict[str, str]]:
    """Three apps with models, a cross-app foreign key and a reversible data migration."""
    return {
        "shop": {
            "0001_initial": migration(
                ops=[
                    'migrations.CreateModel("Item", [("id", models.BigAutoField(primary_key=True)), '
                    '("name", models.CharField(max_length=50))])'
                ]
            ),
            "0002_item_price": migration(
                deps=[("shop", "0001_initial")],
                ops=['migrations.AddField("item", "price", models.IntegerField(null=True))'],
            ),
        },
        "billing": {
            "0001_initial": migration(
                deps=[("shop", "0001_initial")],
                ops=[
                    'migrations.CreateModel("Invoice", [("id", models.BigAutoField(primary_key=True)), '
                    '("item", models.ForeignKey("shop.Item", on_delete=models.CASCADE))])'
                ],
            ),
            "0002_fill": run_python("0002_fill", "0001_initial", reverse=True, app="billing"),
        },
        "crm": {
            "0001_initial": migration(
                ops=['migrations.CreateModel("Customer", [("id", models.BigAutoField(primary_key=True))])']
            ),
        },
    }


@pytest.mark.backends
def test_clean_project_has_no_findings(make_project: MakeProject, backend: str):
    project = make_project(clean_apps())
    assert project.db.tables() == set()  # an empty database (on SQLite, an empty file)
    result, payload = doctor_database(project)  # read-only: creates neither django_migrations nor the journal
    assert result.code == EXIT_OK and payload["findings"] == []
    assert project.db.tables() == set()
    result = project.migtool("migrate-safe")
    assert result.code == EXIT_OK, result
    freeze(project, "1.0")
    result, payload = doctor_database(project)
    assert result.code == EXIT_OK
    assert payload["findings"] == [] and payload["counts"] == {"error": 0, "warning": 0, "info": 0}
    before = database_state(project)
    result = project.migtool("doctor", "--strict", "--database", "default")
    assert result.code == EXIT_OK, result
    assert result.stdout.strip() == "", result  # no table for no findings
    assert "doctor: no findings." in result.stderr, result
    assert database_state(project) == before


# --------------------------------------------------------------------------- rollback and drift


def test_rollback_refuses_drift_in_its_plan_unless_allowed(make_project: MakeProject):
    """Release 1.0 = {0001}; 2.0 adds 0002 (applied).  Editing 0001, which the rollback to 1.0
    keeps, does not matter; editing 0002, which it would unapply, refuses the rollback."""
    project = make_project(
        {
            "shop": {
                "0001_initial": migration(
                    ops=['migrations.CreateModel("Item", [("id", models.BigAutoField(primary_key=True))])']
                )
            }
        }
    )
    freeze(project, "1.0")
    project.write_migration(
        "shop",
        "0002_item_price",
        migration(
            deps=[("shop", "0001_initial")],
            ops=['migrations.AddField("item", "price", models.IntegerField(null=True))'],
        ),
    )
    freeze(project, "2.0")
    manage_migrate(project)
    project.write_migration("shop", "0001_initial", project.apps["shop"]["0001_initial"] + "# edited\n")
    result = project.migtool("rollback", "1.0", "--dry-run")
    assert result.code == EXIT_OK, result  # drift outside the plan

    project.write_migration("shop", "0002_item_price", project.apps["shop"]["0002_item_price"] + "# edited\n")
    result = project.migtool("rollback", "1.0", "--dry-run", "--format", "json")
    assert result.code == EXIT_REFUSED, result
    assert "shop.0002_item_price" in result.stderr and "edited after it was frozen" in result.stderr, result
    assert "--allow-drift" in result.stderr, result
    assert "shop.0001_initial" not in result.stderr, result

    result = project.migtool("rollback", "1.0", "--dry-run", "--allow-drift")
    assert result.code == EXIT_OK, result
    assert "edited after it was frozen" not in result.output, result
    assert ("shop", "0002_item_price") in project.db.applied()  # a dry run


def test_rollback_is_not_broken_by_an_unrelated_malformed_release_file(make_project: MakeProject):
    project = make_project({"shop": {"0001_initial": mig("0001_initial")}})
    freeze(project, "1.0")
    project.write_migration("shop", "0002_more", mig("0002_more", "0001_initial"))
    manage_migrate(project)
    (project.root / "releases" / "0.9.json").write_text('{"broken": ')
    assert project.migtool("rollback", "1.0", "--dry-run", "--allow-drift").code == EXIT_OK
    result = project.migtool("rollback", "1.0", "--dry-run")
    assert result.code == EXIT_OK, result


@pytest.mark.backends
def test_one_malformed_release_file_breaks_only_the_commands_naming_it(make_project: MakeProject, backend: str):
    """releases/0.9.json is hand-broken next to good 1.0 and 2.0: ``releases``, ``status`` and
    ``doctor`` report it and go on with the good ones; commands naming 0.9 refuse it (exit 2)."""
    project = make_project({"shop": {"0001_initial": mig("0001_initial")}})
    freeze(project, "1.0")
    project.write_migration("shop", "0002_more", mig("0002_more", "0001_initial"))
    freeze(project, "2.0")
    manage_migrate(project)
    bad = Path("releases", "0.9.json")  # as migtool names it, from the project directory
    (project.root / bad).write_text('{"broken": ')

    listed = project.migtool("releases", "--format", "json")
    assert listed.code == EXIT_OK, listed
    rows = {r["name"]: r["problem"] for r in json.loads(listed.stdout)["releases"]}
    assert rows["1.0"] is None and rows["2.0"] is None and rows["0.9"].startswith(f"Malformed release file {bad}")

    status = project.migtool("status", "--format", "json")
    assert status.code == EXIT_OK, status
    payload = json.loads(status.stdout)
    assert payload["matching_releases"] == ["2.0"], payload
    assert list(payload["unreadable_releases"]) == ["0.9"], payload
    assert f"Warning: Malformed release file {bad}" in status.stderr, status

    result, report = doctor_database(project)
    assert triples(report) == [("error", "release-unreadable", "0.9")], report
    assert result.code == EXIT_FINDINGS
    assert "not valid JSON" in finding(report, "release-unreadable", "0.9")["message"]
    (project.root / bad).unlink()
    assert doctor_database(project)[0].code == EXIT_OK  # the file was the only finding
    (project.root / bad).write_text('{"broken": ')

    for args in (["rollback", "0.9", "--dry-run"], ["migrate-safe", "--release", "0.9"], ["diff", "0.9"]):
        refused = project.migtool(*args)
        assert refused.code == 2 and refused.stderr.startswith(f"Error: Malformed release file {bad}"), refused
