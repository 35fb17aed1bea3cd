"""``rollback --rehearse`` and ``migrate-safe --plan --rehearse`` on real databases.

A rehearsal runs the real plan in one transaction and rolls it back.  Each test
checks the two things that make it worth asking: it gives the answer the real
run gives (the real run follows, as the oracle), and it leaves the database
exactly as it was, journal included (``snapshot_db`` reads every table's rows).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from projects import Project, Result
from scenarios import (
    FK_RELEASE,
    ITEM_RELEASE,
    Apps,
    Key,
    add_field,
    alter_field,
    failing_reverse_shape,
    filled_by_reverse_shape,
    fk_violating_reverse_shape,
    lock_probe_shape,
    shop_after_item,
)
from test_rollback import EXIT_OK, EXIT_REFUSED, EXIT_RESTORED, insert_item, released_project, snapshot_db

MakeProject = Callable[..., Project]


def rehearse(project: Project, *flags: str) -> tuple[Result, dict[str, Any]]:
    """``rollback r1 --dry-run --rehearse --format json``; assert it changed nothing at all."""
    before = snapshot_db(project)
    result = project.migtool("rollback", "r1", "--dry-run", "--rehearse", "--format", "json", *flags)
    assert snapshot_db(project) == before, f"the rehearsal changed the database:{result}"
    return result, json.loads(result.stdout)


def migrated_with_row(make_project: MakeProject, apps: Apps, release: frozenset[Key], name: str | None) -> Project:
    """Migrated by migtool, so the journal has a run the rehearsals must leave alone."""
    project = released_project(make_project, apps, release)
    assert project.migtool("migrate-safe").ok
    insert_item(project, name=name)
    return project


@pytest.mark.backends
@pytest.mark.parametrize(
    "shape, release, failing",
    [
        (failing_reverse_shape, ITEM_RELEASE, "shop.0002_probe"),  # reverse SQL no check can judge
        (fk_violating_reverse_shape, FK_RELEASE, "shop.0003_probe"),  # SQLite: PRAGMA foreign_key_check
        (filled_by_reverse_shape, ITEM_RELEASE, None),  # a data migration's reverse fills the NULLs
    ],
    ids=["reverse-sql-fails", "foreign-key-violated", "data-migration-fills"],
)
def test_rehearsal_gives_the_real_runs_answer(
    make_project: MakeProject, backend: str, shape: Callable[[], Apps], release: frozenset[Key], failing: str | None
) -> None:
    if backend == "mysql":
        pytest.skip("MariaDB refuses rehearsals (test_rehearsal_refuses_where_it_cannot_be_exact)")
    project = migrated_with_row(make_project, shape(), release, name=None if failing is None else "pen")

    result, report = rehearse(project)
    rehearsal = report["rehearsal"]
    if failing:
        assert result.code == EXIT_REFUSED, result
        assert rehearsal["status"] == "failed" and rehearsal["failed_step"] == failing, rehearsal
        assert rehearsal["error"] and f"({failing}) failed with {rehearsal['error']}" in result.stderr
        real = project.migtool("rollback", "r1", "--yes")
        assert real.code == EXIT_RESTORED and f"{failing} failed ({rehearsal['error']})" in real.stderr, real
    else:
        assert result.code == EXIT_OK, result
        assert rehearsal == {
            "status": "passed",
            "steps": 2,
            "steps_ran": 2,
            "failed_step": None,
            "error": None,
        }
        assert report["can_run"], report
        # The checks alone no longer block: the NOT NULL restore depends on 0003_fill's reverse.
        static = project.migtool("rollback", "r1", "--dry-run", "--format", "json")
        assert static.code == EXIT_OK and "Run with --rehearse for the exact answer" in static.stderr, static
        (nullable,) = [s for s in json.loads(static.stdout)["steps"] if s["migration"] == "shop.0002_nullable"]
        assert nullable["blockers"] == [] and "depends on step 1 (shop.0003_fill)" in nullable["uncertain"][0]
        real = project.migtool("rollback", "r1", "--yes")
        assert real.code == EXIT_OK, real
        assert project.db.applied() == ITEM_RELEASE
        assert project.db.rows("SELECT name, qty FROM shop_item") == [("filled", 3)]


@pytest.mark.backends
def test_passed_rehearsal_overrides_a_blocker_it_disproves(make_project: MakeProject, backend: str) -> None:
    """PostgreSQL casts '+5' and ' 7' to integer; the pre-flight's "non-integer text" check blocks them."""
    if backend != "postgresql":
        pytest.skip("the false blocker is PostgreSQL's")
    apps = shop_after_item(
        {
            "0002_ref": [add_field("Item", "ref", "models.IntegerField(null=True)")],
            "0003_ref_text": [alter_field("Item", "ref", "models.CharField(max_length=10, null=True)")],
        }
    )
    project = released_project(make_project, apps, ITEM_RELEASE | {("shop", "0002_ref")})
    assert project.manage("migrate").ok
    project.db.execute("INSERT INTO shop_item (name, qty, ref) VALUES ('a', 1, '+5'), ('b', 2, ' 7')")

    static = project.migtool("rollback", "r1", "--dry-run")
    assert static.code == EXIT_REFUSED and "non-integer value" in static.stderr, static
    result, report = rehearse(project)
    assert result.code == EXIT_OK, result
    assert report["rehearsal"]["status"] == "passed" and report["can_run"]
    assert len(report["disproved_by_rehearsal"]) == 1 and "non-integer" in report["disproved_by_rehearsal"][0]
    assert "It disproves 1 blocker(s)" in result.stderr

    assert project.migtool("rollback", "r1", "--yes").code == EXIT_REFUSED  # the prediction still stands alone
    real = project.migtool("rollback", "r1", "--rehearse", "--yes")
    assert real.code == EXIT_OK, real
    assert sorted(project.db.rows("SELECT ref FROM shop_item")) == [(5,), (7,)]


@pytest.mark.backends
def test_rehearsal_refuses_where_it_cannot_be_exact(make_project: MakeProject, backend: str) -> None:
    """MariaDB commits DDL; elsewhere a non-atomic step cannot run inside the transaction."""
    project = migrated_with_row(make_project, fk_violating_reverse_shape(last_atomic=False), FK_RELEASE, "pen")
    result, report = rehearse(project)
    assert result.code == EXIT_REFUSED, result
    assert report["kind"] == "error" and report["error"]["type"] == "RehearsalRefusedError"
    why = "commits every DDL statement" if backend == "mysql" else "shop.0004_price cannot run inside a transaction"
    assert why in result.stderr and "Nothing ran." in result.stderr, result


@pytest.mark.backends
def test_migrate_safe_plan_rehearse(make_project: MakeProject, backend: str) -> None:
    """A forward batch rehearsed: the failing step named with its error, or every step ran; nothing stays."""
    boom = "migrations.RunSQL('SELECT * FROM table_that_does_not_exist', migrations.RunSQL.noop)"
    project = make_project(
        shop_after_item({"0002_price": [add_field("Item", "price", "models.IntegerField(null=True)")], "0003": [boom]})
    )
    assert project.manage("migrate", "shop", "0001_a").ok
    insert_item(project)
    before = snapshot_db(project)

    def plan(*args: str) -> tuple[Result, dict[str, Any]]:
        result = project.migtool("migrate-safe", *args, "--plan", "--rehearse", "--format", "json")
        assert snapshot_db(project) == before, result
        return result, json.loads(result.stdout)

    if backend == "mysql":
        result, report = plan()
        assert result.code == EXIT_REFUSED and "commits every DDL statement" in result.stderr, result
        return
    result, report = plan()
    assert result.code == EXIT_REFUSED, result
    assert report["rehearsal"]["status"] == "failed" and report["rehearsal"]["failed_step"] == "shop.0003"
    assert report["rehearsal"]["steps_ran"] == 1
    result, report = plan("shop", "0002_price")
    assert result.code == EXIT_OK and report["rehearsal"]["status"] == "passed", result


def test_rehearse_needs_one_database_and_no_sql(make_project: MakeProject) -> None:
    project = make_project(shop_after_item({}))
    sql = project.migtool("rollback", "r1", "--sql", "--rehearse")
    assert sql.code == 2 and "--rehearse runs the plan" in sql.stderr, sql
    run = project.migtool("migrate-safe", "--rehearse")
    assert run.code == 2 and "--rehearse goes with --plan" in run.stderr, run


@pytest.mark.backends
def test_rehearsal_takes_the_locks_of_the_real_rollback(make_project: MakeProject, backend: str) -> None:
    """Measured, not assumed: the relation locks held at the end of the transaction, rehearsal and real run."""
    if backend != "postgresql":
        pytest.skip("pg_locks")
    project = migrated_with_row(make_project, lock_probe_shape(), ITEM_RELEASE, "pen")
    locks = project.root / "locks.json"

    result, _ = rehearse(project)
    assert result.code == EXIT_OK, result
    rehearsed = json.loads(locks.read_text())
    locks.unlink()
    assert project.migtool("rollback", "r1", "--yes").code == EXIT_OK
    real = json.loads(locks.read_text())
    assert rehearsed == real
    assert ["AccessExclusiveLock", "shop_item"] in real, real
    assert ["AccessExclusiveLock", "(dropped)"] in real, real  # shop_cat


@pytest.mark.backends
def test_rehearsal_timeout_stops_a_long_step(make_project: MakeProject, backend: str) -> None:
    """A reverse that would run for minutes is stopped at --rehearse-timeout and rolled back."""
    long_sql = {
        "postgresql": "SELECT pg_sleep(120)",
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c",
    }
    if backend not in long_sql:
        pytest.skip("MariaDB refuses rehearsals")
    slow = f"migrations.RunSQL('SELECT 1', {long_sql[backend]!r})"
    project = migrated_with_row(make_project, shop_after_item({"0002_slow": [slow]}), ITEM_RELEASE, "pen")
    result, report = rehearse(project, "--rehearse-timeout", "1")
    assert result.code == EXIT_REFUSED, result
    assert report["rehearsal"]["failed_step"] == "shop.0002_slow", report
    assert report["rehearsal"]["error"].endswith("(the rehearsal timeout of 1 s ran out)"), report
