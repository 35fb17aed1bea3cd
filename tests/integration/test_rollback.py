"""Integration tests of ``migtool rollback`` (README: "migtool rollback", "Exit codes").

Each test writes a real Django project whose code moves forward after a
release is frozen, migrates a real database, runs ``python -m migtool
rollback`` and reads the outcome back from the database itself: the rows of
``django_migrations``, the schema, and the data rows that must survive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest
from projects import Project, Result
from scenarios import (
    FK_RELEASE,
    ITEM_RELEASE,
    MERGE_RELEASE,
    PARTIAL_SQUASH,
    PLACEHOLDER,
    PLACEHOLDER_RELEASE,
    SQUASH,
    SQUASH_ORIGINALS,
    SQUASH_RELEASE,
    Apps,
    Key,
    add_field,
    failing_reverse_shape,
    fk_violating_reverse_shape,
    irreversible_shape,
    late_app_shape,
    longer_name_shape,
    merge_shape,
    null_allowed_shape,
    only,
    partial_squash_shape,
    shared_placeholder_shape,
    shop_after_item,
    squash_shape,
)

MakeProject = Callable[..., Project]

EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_RESTORED = 0, 2, 4, 6

# --------------------------------------------------------------------------- helpers


JOURNAL_PREFIX = "migtool_"  # migtool's own run journal, written by every run that executes


@dataclass(frozen=True)
class DbSnapshot:
    """Everything a rollback could change, for before/after comparisons."""

    recorded: list[tuple[str, str]]  # rows of django_migrations, duplicates kept
    columns: dict[str, set[str]]  # every table -> its columns
    data: dict[str, list[str]]  # every table but django_migrations -> its rows (repr, sorted)

    def without_journal(self) -> DbSnapshot:
        """The project's own state: what "restored" must restore (the journal records the attempt)."""
        return DbSnapshot(
            self.recorded,
            {t: c for t, c in self.columns.items() if not t.startswith(JOURNAL_PREFIX)},
            {t: d for t, d in self.data.items() if not t.startswith(JOURNAL_PREFIX)},
        )


def snapshot_db(project: Project) -> DbSnapshot:
    db = project.db
    tables = sorted(db.tables())
    recorded = db.rows("SELECT app, name FROM django_migrations") if "django_migrations" in tables else []
    return DbSnapshot(
        recorded=sorted((str(app), str(name)) for app, name in recorded),
        columns={t: db.columns(t) for t in tables},
        data={t: sorted(map(repr, db.rows(f"SELECT * FROM {t}"))) for t in tables if t != "django_migrations"},
    )


def released_project(make_project: MakeProject, apps: Apps, release: Iterable[Key], name: str = "r1") -> Project:
    """A project whose code was at ``release`` when ``name`` was frozen, and is at ``apps`` now."""
    project = make_project(only(apps, release))
    frozen = project.migtool("freeze", "--release", name)
    assert frozen.code == EXIT_OK, frozen
    for label, migrations in apps.items():
        if label not in project.apps:
            project.add_app(label, migrations)
        for migration_name, source in migrations.items():
            if migration_name not in project.apps[label]:
                project.write_migration(label, migration_name, source)
    return project


def migrate(project: Project, *args: str) -> None:
    result = project.manage("migrate", *args)
    assert result.code == EXIT_OK, result


def rollback(project: Project, release: str, *flags: str, input: str | None = None) -> Result:
    return project.migtool("rollback", release, *flags, input=input)


def all_keys(apps: Apps) -> set[Key]:
    return {(label, name) for label, migrations in apps.items() for name in migrations}


def plan_steps(project: Project, release: str) -> list[str]:
    """The steps of ``rollback --dry-run --format json``, in execution order; checks it changed nothing."""
    before = snapshot_db(project)
    dry = rollback(project, release, "--dry-run", "--format", "json")
    assert dry.code == EXIT_OK, dry
    assert snapshot_db(project) == before
    return [step["migration"] for step in json.loads(dry.stdout)["steps"]]


def assert_refused_untouched(project: Project, result: Result, before: DbSnapshot, *phrases: str) -> None:
    """Exit 4, every phrase in stderr, and the database exactly as ``before``."""
    assert result.code == EXIT_REFUSED, result
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result)
    assert snapshot_db(project) == before


def project_tables(project: Project) -> set[str]:
    return {t for t in project.db.tables() if not t.startswith(JOURNAL_PREFIX)}


def insert_item(project: Project, name: str = "pen", qty: int | None = 3) -> None:
    project.db.execute("INSERT INTO shop_item (name, qty) VALUES (%s, %s)", (name, qty))


def items(project: Project) -> list[tuple[object, ...]]:
    return project.db.rows("SELECT name, qty FROM shop_item ORDER BY id")


# --------------------------------------------------------------------------- merge shape (cases 1, 3, 9, 11)


def seed_merge_data(project: Project) -> None:
    """A row in the release's table, and rows along the FK that an ill-ordered plan would trip on."""
    insert_item(project)
    project.db.execute("INSERT INTO shop_cat (name) VALUES ('tom')")
    project.db.execute("INSERT INTO other_x (cat_id) SELECT id FROM shop_cat")


def assert_at_merge_release(project: Project) -> None:
    db = project.db
    assert db.applied() == MERGE_RELEASE
    assert all(db.migration_row_count(*key) == 1 for key in MERGE_RELEASE)
    assert not {"shop_cat", "other_x"} & db.tables()
    assert db.columns("shop_item") == {"id", "name", "qty", "b"}  # 0002_b stays
    assert items(project) == [("pen", 3)]


@pytest.mark.backends
def test_merge_shape_unapplies_parallel_branch_and_dependents(make_project: MakeProject, backend: str) -> None:
    project = released_project(make_project, merge_shape(), MERGE_RELEASE)
    migrate(project)
    seed_merge_data(project)

    steps = plan_steps(project, "r1")
    assert sorted(steps) == ["other.0001_x", "shop.0002_c", "shop.0003_d"]
    assert steps.index("other.0001_x") < steps.index("shop.0002_c")  # the FK's table goes first
    assert steps.index("shop.0003_d") < steps.index("shop.0002_c")

    before = snapshot_db(project)
    sql = rollback(project, "r1", "--sql")
    assert sql.code == EXIT_OK, sql
    assert re.findall(r'DROP TABLE\s+[`"]?(\w+)', sql.stdout, re.IGNORECASE) == ["other_x", "shop_cat"]
    assert snapshot_db(project) == before

    done = rollback(project, "r1", "--yes")
    assert done.code == EXIT_OK, done
    assert_at_merge_release(project)

    again = rollback(project, "r1", "--yes")
    assert again.code == EXIT_OK, again
    assert "Nothing to roll back" in again.stderr
    assert_at_merge_release(project)


@pytest.mark.backends
def test_legacy_leaves_only_release_works_like_a_full_release(make_project: MakeProject, backend: str) -> None:
    project = make_project(merge_shape())
    migrate(project)
    seed_merge_data(project)
    (project.root / "releases").mkdir()
    (project.root / "releases" / "old.json").write_text(json.dumps({"shop": "0002_b"}))

    done = rollback(project, "old", "--yes")
    assert done.code == EXIT_OK, done
    assert_at_merge_release(project)


# --------------------------------------------------------------------------- app added, confirmation (cases 2, 12)


@pytest.mark.backends
def test_app_added_after_release_is_unapplied_completely(make_project: MakeProject, backend: str) -> None:
    project = released_project(make_project, late_app_shape(), ITEM_RELEASE)
    migrate(project)
    insert_item(project)
    project.db.execute("INSERT INTO late_note (item_id, body) SELECT id, 'hello' FROM shop_item")
    before = snapshot_db(project)

    unconfirmed = rollback(project, "r1", input="")  # no --yes, and stdin is a pipe, not a terminal
    assert unconfirmed.code == EXIT_USAGE, unconfirmed
    assert "--yes" in unconfirmed.stderr
    assert snapshot_db(project) == before

    done = rollback(project, "r1", "--yes")
    assert done.code == EXIT_OK, done
    assert project.db.applied() == ITEM_RELEASE
    assert project_tables(project) == {"django_migrations", "shop_item"}
    assert items(project) == [("pen", 3)]


# ------------------------------------------------------------------- refusals, nothing touched (cases 4, 5, 6, 13, 14)


@pytest.mark.backends
def test_irreversible_step_refuses_everything(make_project: MakeProject, backend: str) -> None:
    """0003_price could be reverted, but 0002_fill cannot: nothing at all is unapplied."""
    project = released_project(make_project, irreversible_shape(), ITEM_RELEASE)
    migrate(project)
    insert_item(project)
    before = snapshot_db(project)

    for flags in (["--yes"], ["--dry-run"], ["--sql"]):
        refused = rollback(project, "r1", *flags)
        assert_refused_untouched(project, refused, before, "shop.0002_fill", "RunPython")
        if "--sql" in flags:  # blockers instead of SQL
            assert not re.search(r"ALTER TABLE|DROP", refused.stdout, re.IGNORECASE), refused


@pytest.mark.backends
def test_null_rows_refuse_restoring_not_null_until_fixed(make_project: MakeProject, backend: str) -> None:
    project = released_project(make_project, null_allowed_shape(), ITEM_RELEASE)
    migrate(project)
    insert_item(project, qty=None)
    before = snapshot_db(project)

    for flags in (["--dry-run"], ["--yes"]):
        refused = rollback(project, "r1", *flags)
        assert_refused_untouched(project, refused, before, "shop_item", "qty")
        assert re.search(r"\b1 row\b", refused.stderr), refused

    project.db.execute("UPDATE shop_item SET qty = 7")
    done = rollback(project, "r1", "--yes")
    assert done.code == EXIT_OK, done
    assert project.db.applied() == ITEM_RELEASE
    assert items(project) == [("pen", 7)]
    with pytest.raises(Exception, match=r"(?i)null"):  # NOT NULL is back
        insert_item(project, "nil", None)


@pytest.mark.backends
def test_longer_values_refuse_shrinking_max_length_except_on_sqlite(make_project: MakeProject, backend: str) -> None:
    project = released_project(make_project, longer_name_shape(), ITEM_RELEASE)
    migrate(project)
    long_name = "x" * 50
    insert_item(project, long_name)
    before = snapshot_db(project)

    result = rollback(project, "r1", "--yes")
    if backend == "sqlite":  # SQLite does not enforce varchar lengths: the revert runs, the value stays
        assert result.code == EXIT_OK, result
        assert project.db.applied() == ITEM_RELEASE
        assert items(project) == [(long_name, 3)]
    else:
        assert_refused_untouched(project, result, before, "shop_item", "name")
        assert re.search(r"\b1 value\b", result.stderr), result


@pytest.mark.backends
def test_release_not_fully_applied_is_refused(make_project: MakeProject, backend: str) -> None:
    project = make_project(longer_name_shape())
    frozen = project.migtool("freeze", "--release", "r1")
    assert frozen.code == EXIT_OK, frozen
    migrate(project, "shop", "0001_a")  # the database is behind the release
    before = snapshot_db(project)

    refused = rollback(project, "r1", "--yes")
    assert_refused_untouched(project, refused, before, "shop.0002_name_long", "migrate-safe")


@pytest.mark.backends
def test_unknown_or_invalid_release_is_bad_input(make_project: MakeProject, backend: str) -> None:
    project = make_project(shop_after_item({}))
    before = snapshot_db(project)

    for release in ("nope", "../escape", ".hidden"):  # unknown; invalid names
        result = rollback(project, release, "--yes")
        assert result.code == EXIT_USAGE, result
        assert result.stderr.startswith("Error:"), result  # one line, no traceback
        assert snapshot_db(project) == before


# --------------------------------------------------------------------------- failures at run time (case 10)


@pytest.mark.backends
def test_step_failing_at_run_time_restores_the_starting_state(make_project: MakeProject, backend: str) -> None:
    """0004_cat and 0003_price are reverted before 0002_probe's reverse SQL fails
    (no pre-flight check can predict that).

    PostgreSQL/SQLite undo everything in one transaction; MariaDB re-applies
    the reverted steps.  Either way: exit 6 and the database as it was.
    """
    project = released_project(make_project, failing_reverse_shape(), ITEM_RELEASE)
    migrate(project)
    insert_item(project)
    before = snapshot_db(project)

    failed = rollback(project, "r1", "--yes")
    assert failed.code == EXIT_RESTORED, failed
    assert "shop.0002_probe" in failed.stderr
    assert snapshot_db(project).without_journal() == before
    # Re-applying re-creates dropped columns empty: only the step-by-step backend must say so.
    assert ("back empty: their data is lost" in failed.stderr) == (backend == "mysql"), failed


def run_fk_violation(project: Project) -> Result:
    """Migrate, keep a row, roll back to r1 (fails on 0003_probe's reverse); return the result."""
    migrate(project)
    insert_item(project)
    before = snapshot_db(project)
    failed = rollback(project, "r1", "--yes")
    assert failed.code == EXIT_RESTORED, failed
    assert "shop.0003_probe" in failed.stderr
    assert snapshot_db(project).without_journal() == before
    return failed


@pytest.mark.backends
def test_reverse_violating_a_foreign_key_restores_the_starting_state(make_project: MakeProject, backend: str) -> None:
    run_fk_violation(released_project(make_project, fk_violating_reverse_shape(), FK_RELEASE))


def test_sqlite_step_by_step_foreign_key_violation_restores_the_starting_state(make_project: MakeProject) -> None:
    run_fk_violation(released_project(make_project, fk_violating_reverse_shape(last_atomic=False), FK_RELEASE))


@pytest.mark.backends
def test_undo_after_unapplying_a_squashed_original_restores_it(make_project: MakeProject, backend: str) -> None:
    """p.0001_p (one original of a partly applied squash, non-atomic) is unapplied, then
    shop.0002_probe's reverse fails.  With no original applied any more, a fresh loader
    resolves the squash instead; re-applying p.0001_p needs the graph the run used.
    """
    apps = partial_squash_shape()
    applied = ITEM_RELEASE | {("shop", "0002_probe"), ("p", "0001_p")}
    project = released_project(make_project, only(apps, applied), ITEM_RELEASE)
    migrate(project)
    for name, source in apps["p"].items():  # the squash arrives after 0001_p was applied
        if name not in project.apps["p"]:
            project.write_migration("p", name, source)
    assert project.db.applied() == applied
    before = snapshot_db(project)
    assert plan_steps(project, "r1") == ["p.0001_p", "shop.0002_probe"]

    failed = rollback(project, "r1", "--yes")
    assert failed.code == EXIT_RESTORED, failed
    assert "shop.0002_probe" in failed.stderr and "restored to its starting state" in failed.stderr, failed
    after = snapshot_db(project).without_journal()
    assert after.recorded == before.recorded  # p.0001_p back, the squash not recorded
    assert after.columns == before.columns
    assert ("p", PARTIAL_SQUASH) not in project.db.applied()
    assert project.db.columns("p_p") == {"id"}


# --------------------------------------------------------------------------- squashes (cases 7, 8)


@pytest.mark.backends
def test_release_inside_squash_rolls_back_over_originals(make_project: MakeProject, backend: str) -> None:
    apps = squash_shape()
    project = released_project(make_project, apps, SQUASH_RELEASE)
    migrate(project)  # from scratch: the squash is in effect
    assert project.db.applied() == all_keys(apps)
    project.db.execute("INSERT INTO q_q (f2, f3, f4) VALUES (2, 3, 4)")

    done = rollback(project, "r1", "--yes")
    assert done.code == EXIT_OK, done
    assert project.db.applied() == SQUASH_RELEASE  # the squash's stale row is gone too
    assert project.db.columns("q_q") == {"id", "f2"}
    assert project.db.rows("SELECT f2 FROM q_q") == [(2,)]

    migrate(project)
    assert project.db.applied() == all_keys(apps)
    assert all(project.db.migration_row_count(*key) == 1 for key in all_keys(apps))
    assert project.db.columns("q_q") == {"id", "f2", "f3", "f4"}


@pytest.mark.backends
def test_release_inside_squash_without_originals_is_unreachable(make_project: MakeProject, backend: str) -> None:
    project = released_project(make_project, squash_shape(), SQUASH_RELEASE)
    migrate(project)
    for name in SQUASH_ORIGINALS:
        project.remove_migration("q", name)
    before = snapshot_db(project)

    refused = rollback(project, "r1", "--yes")
    assert_refused_untouched(project, refused, before, f"q.{SQUASH}")


# --------------------------------------------------------------------------- shared placeholder (case 15)


@pytest.mark.backends
def test_shared_placeholder_rollback_is_refused_untouched(make_project: MakeProject, backend: str) -> None:
    """django-migrations.md §1.8: 0002_a and 0003_b both replace bj.0001_placeholder_patch.  Django counts
    both applied while the placeholder is recorded, so "0002_a applied, 0003_b not" cannot be written in
    django_migrations: rollback to r1 = {0001_initial, 0002_a} must refuse, touching nothing."""
    project = released_project(make_project, shared_placeholder_shape(), PLACEHOLDER_RELEASE)
    migrate(project)
    assert project.db.migration_row_count(*PLACEHOLDER) == 2  # one per replacing migration
    project.db.execute("INSERT INTO bj_b (pa, pb) VALUES (42, 7)")
    before = snapshot_db(project)
    refused = rollback(project, "r1", "--yes")
    assert_refused_untouched(project, refused, before, "both replace bj.0001_placeholder_patch")


# --------------------------------------------------------------------------- older code deployed after a rollback


def deploy_code(project: Project, apps: Apps) -> None:
    """Make the project's code exactly ``apps``, as deploying another image does: migrations
    are written or deleted, and apps join or leave INSTALLED_APPS."""
    for label in list(project.apps):
        for name in list(project.apps[label]):
            if name not in apps.get(label, {}):
                project.remove_migration(label, name)
        if label not in apps:
            del project.apps[label]
    for label, migrations in apps.items():
        project.apps.setdefault(label, {})
        for name, source in migrations.items():
            project.write_migration(label, name, source)
    project.write()


@pytest.mark.backends
def test_a_release_whose_migrations_are_not_on_disk_is_not_reached(make_project: MakeProject, backend: str) -> None:
    """The documented workflow: roll back to r1, then deploy r1's code.  The database has exactly
    r1's rows, and r2's migrations are neither applied nor on disk: the database is *not* at r2,
    and a deploy script running ``migrate-safe --release r2`` from the old image must not be told
    it succeeded.  Before the rollback the same old code only sees ghost rows, and the database
    still matches r2 (it is there: what is recorded counts)."""
    apps = {
        **late_app_shape(),
        **shop_after_item({"0002_price": [add_field("Item", "price", "models.IntegerField(null=True)")]}),
    }
    old = only(apps, ITEM_RELEASE)
    project = released_project(make_project, apps, ITEM_RELEASE)
    assert project.migtool("freeze", "--release", "r2").code == EXIT_OK
    migrate(project)

    deploy_code(project, old)  # old code over the r2 database: ghost rows, still r2
    status = json.loads(project.migtool("status", "--format", "json").stdout)
    assert "r2" in status["matching_releases"], status
    deploy_code(project, apps)  # back to r2's code
    assert rollback(project, "r1", "--yes").code == EXIT_OK
    deploy_code(project, old)
    before = snapshot_db(project)

    status = json.loads(project.migtool("status", "--format", "json").stdout)
    assert status["matching_releases"] == ["r1"], status
    not_on_disk = ("The code on disk is not at release r2", "late.0001_note", "late.0002_body", "shop.0002_price")
    migrated = project.migtool("migrate-safe", "--release", "r2")
    assert_refused_untouched(project, migrated, before, *not_on_disk)
    for flags in (["--dry-run"], ["--yes"], ["--sql"]):
        assert_refused_untouched(project, rollback(project, "r2", *flags), before, *not_on_disk)
    assert snapshot_db(project) == before
    assert project.db.applied() == ITEM_RELEASE
