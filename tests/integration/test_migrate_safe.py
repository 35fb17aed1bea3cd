"""Integration tests of ``migtool migrate-safe``, its journal (``history``) and ``rollback --last``.

Each test writes a real Django project, runs ``python -m migtool`` (and
sometimes ``manage.py migrate``) against a real database, and checks the
outcome in the database itself: the rows of ``django_migrations``, the tables
and their columns, the data rows, and migtool's journal tables.

Most tests use one shape (``store``): app ``shop`` has 0001_item applied
before the run and a pre-existing data row; the batch is shop.0002_price,
shop.0003_middle, and the new app ``ledger`` (0001_entry, then 0002_last,
which depends on shop.0003_middle so it always runs last).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from projects import Project, Result, migration
from scenarios import ITEM, PARTIAL_SQUASH, Apps, Key, add_field, create_model, only, partial_squash_shape

MakeProject = Callable[..., Project]

EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_LOCKED, EXIT_RESTORED, EXIT_NOT_RESTORED = 0, 2, 4, 5, 6, 7
JOURNAL_TABLES = frozenset({"migtool_run", "migtool_run_step", "migtool_source"})

# --------------------------------------------------------------------------- the "store" shape

PRICE = add_field("Item", "price", "models.IntegerField(null=True)")
BUMP = "migrations.RunSQL('UPDATE shop_item SET qty = qty + 1', 'UPDATE shop_item SET qty = qty - 1')"
ENTRY = create_model(
    "Entry",
    item="models.ForeignKey('shop.Item', on_delete=models.CASCADE)",
    note="models.CharField(max_length=20, null=True)",
)
MEMO = add_field("Entry", "memo", "models.TextField(null=True)")
AUDIT = create_model("Audit")
# Valid SQL on a table that exists by then, failing at run time on every backend.
FAIL = "migrations.RunSQL(\"UPDATE ledger_entry SET note = 'x' WHERE no_such_column = 1\")"
IRREVERSIBLE = "migrations.RunPython(nap)"
NAP = "migrations.RunPython(nap, migrations.RunPython.noop)"
NAP_CODE = '''
import os
import pathlib
import time


def nap(apps, schema_editor):
    """Touch $NAP_MARKER (the test then knows this migration runs), then sleep until the
    file $NAP_RELEASE exists, at most $NAP_SECONDS (default 0)."""
    if os.environ.get("NAP_MARKER"):
        pathlib.Path(os.environ["NAP_MARKER"]).touch()
    release = os.environ.get("NAP_RELEASE")
    deadline = time.monotonic() + float(os.environ.get("NAP_SECONDS", "0"))
    while time.monotonic() < deadline and not (release and os.path.exists(release)):
        time.sleep(0.05)
'''


def keys(*steps: str) -> frozenset[Key]:
    """``"app.name"`` strings (as migtool prints them) as keys."""
    return frozenset((app, name) for app, name in (step.split(".") for step in steps))


BEFORE = keys("shop.0001_item")
BATCH = ("shop.0002_price", "shop.0003_middle", "ledger.0001_entry", "ledger.0002_last")  # in Django's order
ALL = BEFORE | keys(*BATCH)


def store(
    middle: Sequence[str] = (BUMP,),
    last: Sequence[str] = (MEMO,),
    *,
    middle_atomic: bool | None = None,
    last_atomic: bool | None = None,
) -> Apps:
    """shop: 0001_item (Item) -> 0002_price (AddField) -> 0003_middle (``middle``);
    ledger: 0001_entry (Entry, FK to Item) -> 0002_last (``last``, also after shop.0003_middle).

    Django's order, and so the batch's: shop.0002, shop.0003, ledger.0001, ledger.0002.
    """

    def preamble(ops: Sequence[str]) -> str:
        return NAP_CODE if any("nap" in op for op in ops) else ""

    return {
        "shop": {
            "0001_item": migration(ops=[ITEM], initial=True),
            "0002_price": migration(deps=[("shop", "0001_item")], ops=[PRICE]),
            "0003_middle": migration(
                deps=[("shop", "0002_price")], ops=middle, atomic=middle_atomic, preamble=preamble(middle)
            ),
        },
        "ledger": {
            "0001_entry": migration(deps=[("shop", "0001_item")], ops=[ENTRY], initial=True),
            "0002_last": migration(
                deps=[("ledger", "0001_entry"), ("shop", "0003_middle")],
                ops=last,
                atomic=last_atomic,
                preamble=preamble(last),
            ),
        },
    }


def store_project(make_project: MakeProject, apps: Apps, extra_settings: str = "") -> Project:
    """The project at ``apps`` with shop.0001_item applied by plain Django and one Item row."""
    project = make_project(apps, extra_settings=extra_settings)
    migrated = project.manage("migrate", "shop", "0001_item")
    assert migrated.code == EXIT_OK, migrated
    project.db.execute("INSERT INTO shop_item (name, qty) VALUES ('pen', 3)")
    return project


def stage(project: Project, apps: Apps) -> None:
    """Move the project's code forward to ``apps`` (new apps are installed, migrations added)."""
    for label, migrations in apps.items():
        if label not in project.apps:
            project.add_app(label, {})
        for name, source in migrations.items():
            if name not in project.apps[label]:
                project.write_migration(label, name, source)


# --------------------------------------------------------------------------- reading the database


@dataclass(frozen=True)
class DbSnapshot:
    """The project's own state, migtool's journal excluded (a run records itself there)."""

    recorded: list[Key]  # rows of django_migrations, duplicates kept
    columns: dict[str, set[str]]  # every table -> its columns
    data: dict[str, list[str]]  # every table but django_migrations -> its rows (repr, sorted)


def snapshot_db(project: Project) -> DbSnapshot:
    db = project.db
    tables = sorted(db.tables() - JOURNAL_TABLES)
    recorded = db.rows("SELECT app, name FROM django_migrations") if "django_migrations" in tables else []
    return DbSnapshot(
        recorded=sorted((str(app), str(name)) for app, name in recorded),
        columns={t: db.columns(t) for t in tables},
        data={t: sorted(map(repr, db.rows(f"SELECT * FROM {t}"))) for t in tables if t != "django_migrations"},
    )


def assert_recorded_once(project: Project, keys: frozenset[Key]) -> None:
    """Exactly ``keys`` are applied, each recorded by one row."""
    assert project.db.applied() == keys
    assert {key: project.db.migration_row_count(*key) for key in keys} == dict.fromkeys(keys, 1)


def qty(project: Project) -> list[tuple[Any, ...]]:
    return project.db.rows("SELECT name, qty FROM shop_item ORDER BY id")


def journal_statuses(project: Project) -> dict[int, str]:
    """Run id -> status as stored (a killed run is still ``running`` until the next run)."""
    if "migtool_run" not in project.db.tables():
        return {}
    return {int(i): str(s) for i, s in project.db.rows("SELECT id, status FROM migtool_run")}


# --------------------------------------------------------------------------- running migtool


def json_of(result: Result, code: int = EXIT_OK) -> dict[str, Any]:
    assert result.code == code, result
    return json.loads(result.stdout)


def history(project: Project, *args: str) -> list[dict[str, Any]]:
    """``migtool history --format json``: the runs, newest first."""
    return json_of(project.migtool("history", *args, "--format", "json"))["runs"]


def run_steps(project: Project, run_id: int) -> list[tuple[str, str]]:
    """``migtool history RUN_ID --format json``: (migration, outcome) per journaled step, in order."""
    run = json_of(project.migtool("history", str(run_id), "--format", "json"))["run"]
    assert run["id"] == run_id
    return [(step["migration"], step["outcome"]) for step in run["steps"]]


def outcomes(steps: list[tuple[str, str]], outcome: str) -> list[str]:
    return [migration for migration, o in steps if o == outcome]


@dataclass
class Background:
    """``python -m migtool ARGS`` running in the background, its output going to files."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @classmethod
    def start(cls, project: Project, name: str, *args: str, **env: str) -> Background:
        """Start it with extra environment variables; ``name`` names its output files."""
        stdout, stderr = project.root / f"{name}.out", project.root / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "migtool", *args],
                cwd=project.root,
                env={**project.child_env(), "PYTHONUNBUFFERED": "1", **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        return cls(process, stdout, stderr)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def result(self, timeout: float = 60) -> Result:
        self.process.wait(timeout)
        args = tuple(map(str, self.process.args))  # type: ignore[arg-type]
        return Result(self.process.returncode, self.stdout.read_text(), self.stderr.read_text(), args)


def eventually(condition: Callable[[], bool], timeout: float = 30) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def start_napping_run(project: Project, seconds: float) -> Background:
    """Start migrate-safe on a ``store(middle=[NAP])`` project; return once it sleeps inside
    shop.0003_middle (until ``release_nap`` or ``seconds``) and its journal row says running."""
    marker = project.root / "napping"
    run = Background.start(
        project,
        "napping",
        "migrate-safe",
        NAP_MARKER=str(marker),
        NAP_RELEASE=str(project.root / "wake-up"),
        NAP_SECONDS=str(seconds),
    )
    assert eventually(lambda: marker.exists() or not run.running), run.result()
    assert run.running, run.result()
    assert list(journal_statuses(project).values()) == ["running"]
    return run


def release_nap(project: Project) -> None:
    (project.root / "wake-up").touch()


# --------------------------------------------------------------------------- 1, 2: a failing last migration


def assert_failed_and_restored(project: Project, result: Result, before: DbSnapshot) -> None:
    """Exit 6 naming ledger.0002_last and the error; rows, schema and data exactly as ``before``."""
    assert result.code == EXIT_RESTORED, result
    assert "ledger.0002_last" in result.stderr, result
    assert "no_such_column" in result.stderr, result
    after = snapshot_db(project)
    assert after == before
    assert not any(table.startswith("ledger_") for table in after.columns)  # the new app left nothing
    assert qty(project) == [("pen", 3)]  # BUMP (qty + 1) undone


@pytest.mark.backends
def test_failing_last_migration_restores_every_app(make_project: MakeProject, backend: str) -> None:
    """shop.0002_price, the qty bump and the new app ledger ran; ledger.0002_last fails.

    One transaction on PostgreSQL/SQLite; on MariaDB the three done steps are unapplied again.
    """
    project = store_project(make_project, store(last=[FAIL]))
    before = snapshot_db(project)

    failed = project.migtool("migrate-safe")
    assert_failed_and_restored(project, failed, before)

    [run] = history(project)
    assert (run["command"], run["status"], run["direction"]) == ("migrate-safe", "restored", "forwards")
    assert "ledger.0002_last" in run["error"]
    steps = run_steps(project, run["id"])
    done = list(BATCH[:-1])
    if backend == "mysql":  # step by step: each done step was undone again, newest first
        assert outcomes(steps, "done") == done
        assert outcomes(steps, "undone") == done[::-1]
    else:  # one transaction
        assert outcomes(steps, "rolled back") == done
    assert outcomes(steps, "failed") == ["ledger.0002_last"]


@pytest.mark.backends
def test_non_atomic_migration_forces_step_by_step_and_still_restores(make_project: MakeProject, backend: str) -> None:
    """shop.0003_middle (the qty bump) is ``atomic = False``; the JSON error report is checked too."""
    project = store_project(make_project, store(last=[FAIL], middle_atomic=False))
    before = snapshot_db(project)

    failed = project.migtool("migrate-safe", "--format", "json")
    assert_failed_and_restored(project, failed, before)
    error = json_of(failed, EXIT_RESTORED)["error"]
    assert (error["type"], error["exit_code"]) == ("ExecutionError", EXIT_RESTORED)
    assert error["details"]["failed"] == "ledger.0002_last"
    assert "no_such_column" in error["details"]["error"]

    [run] = history(project)
    assert (run["id"], run["status"]) == (error["details"]["run_id"], "restored")
    steps = run_steps(project, run["id"])
    assert outcomes(steps, "done") == list(BATCH[:-1])
    assert outcomes(steps, "undone") == list(BATCH[-2::-1])
    assert outcomes(steps, "failed") == ["ledger.0002_last"]


@pytest.mark.backends
def test_undo_after_applying_the_last_squashed_original_restores_it(make_project: MakeProject, backend: str) -> None:
    """p.0002_f2 (non-atomic) completes a partly applied squash, then p.0003_boom fails.
    With every original applied, a fresh loader resolves the squash instead; unapplying
    p.0002_f2 needs the graph the run used.
    """
    apps = partial_squash_shape()
    project = make_project(only(apps, {("shop", "0001_a"), ("shop", "0002_probe"), ("p", "0001_p")}))
    assert project.manage("migrate").code == EXIT_OK
    stage(project, apps)  # the squash arrives after 0001_p was applied
    before = snapshot_db(project)

    failed = project.migtool("migrate-safe")
    assert failed.code == EXIT_RESTORED, failed
    assert "p.0003_boom" in failed.stderr and "restored to its starting state" in failed.stderr, failed
    assert snapshot_db(project) == before
    assert ("p", PARTIAL_SQUASH) not in project.db.applied()
    assert project.db.columns("p_p") == {"id"}
    [run] = history(project)
    assert outcomes(run_steps(project, run["id"]), "undone") == ["p.0002_f2"]


@pytest.mark.backends
def test_partly_applied_failing_migration_is_not_reported_restored(make_project: MakeProject, backend: str) -> None:
    """ledger.0002_last creates ledger_audit, committed at once (atomic = False), then fails.

    Exit 6 promises the schema as it was; here it is not, so the run must say so (7) and name the table.
    """
    project = store_project(make_project, store(last=[AUDIT, FAIL], last_atomic=False))

    failed = project.migtool("migrate-safe")
    assert failed.code == EXIT_NOT_RESTORED, failed
    assert "NOT restored" in failed.stderr and "+ledger_audit." in failed.stderr, failed
    assert "ledger_audit" in project.db.tables()


def test_compensation_progress_says_undoing(make_project: MakeProject) -> None:
    """SQLite only: the progress lines do not depend on the backend."""
    project = store_project(make_project, store(last=[FAIL], middle_atomic=False))

    failed = project.migtool("migrate-safe")
    assert failed.code == EXIT_RESTORED, failed
    assert "undoing ledger.0001_entry" in failed.stderr and "undone ledger.0001_entry" in failed.stderr, failed
    assert "re-appl" not in failed.stderr, failed


# --------------------------------------------------------------------------- 3, 4: success and --plan

WITH_CONTENTTYPES = 'INSTALLED_APPS = ["django.contrib.contenttypes", *INSTALLED_APPS]'
CONTENTTYPES_STEPS = ("contenttypes.0001_initial", "contenttypes.0002_remove_content_type_name")


@pytest.mark.backends
def test_success_applies_the_batch_journals_it_and_runs_post_migrate(make_project: MakeProject, backend: str) -> None:
    project = store_project(make_project, store(), extra_settings=WITH_CONTENTTYPES)

    done = project.migtool("migrate-safe", "--noinput")
    assert done.code == EXIT_OK, done
    assert "Applied" in done.stderr
    assert_recorded_once(project, ALL | keys(*CONTENTTYPES_STEPS))
    assert project.db.columns("ledger_entry") == {"id", "item_id", "note", "memo"}
    assert project.db.columns("shop_item") == {"id", "name", "qty", "price"}
    assert qty(project) == [("pen", 4)]
    # post_migrate ran (once, after the batch): content types for the models of the batch.
    models = set(project.db.rows("SELECT app_label, model FROM django_content_type"))
    assert {("shop", "item"), ("ledger", "entry")} <= models

    [run] = history(project)
    assert (run["command"], run["status"], run["release"], run["error"]) == ("migrate-safe", "succeeded", None, None)
    assert run["finished_at"] and run["user"] and run["host"] and run["pid"]
    assert run["migtool_version"] and run["django_version"]
    assert run_steps(project, run["id"]) == [(step, "done") for step in (*CONTENTTYPES_STEPS, *BATCH)]


@pytest.mark.backends
def test_plan_changes_nothing_and_creates_no_journal(make_project: MakeProject, backend: str) -> None:
    project = store_project(make_project, store())
    before, tables = snapshot_db(project), project.db.tables()

    plan = project.migtool("migrate-safe", "--plan", "--format", "json")
    report = json_of(plan)
    assert report["executed"] is False
    assert [step["migration"] for step in report["steps"]] == list(BATCH)
    assert snapshot_db(project) == before
    assert project.db.tables() == tables  # no migtool_run / migtool_run_step


def test_plan_on_a_sqlite_file_that_does_not_exist_yet_plans_from_empty_and_creates_nothing(
    make_project: MakeProject,
) -> None:
    """As ``migrate --plan`` users expect: the full plan from an empty state, exit 0;
    neither the database file nor the lock file is created."""
    project = make_project(store())
    database = Path(project.db.name)
    assert not database.exists()

    report = json_of(project.migtool("migrate-safe", "--plan", "--format", "json"))
    assert [step["migration"] for step in report["steps"]] == ["shop.0001_item", *BATCH]
    table = project.migtool("migrate-safe", "--plan")
    assert table.code == EXIT_OK and "ledger" in table.stdout, table
    assert sorted(p.name for p in database.parent.glob("db.sqlite3*")) == []

    status = project.migtool("status")  # a read without --plan still reports the missing file
    assert status.code == 3 and "does not exist" in status.stderr, status
    assert not database.exists()


# --------------------------------------------------------------------------- 5, 6: concurrency and SIGKILL


@pytest.mark.backends
def test_concurrent_runs_never_apply_twice(make_project: MakeProject, backend: str) -> None:
    """While run 1 sleeps in shop.0003_middle, holding the lock: an impatient second run gives up
    after its --lock-timeout (exit 5, naming run 1); a patient third run waits for the lock, then
    finds the database changed (exit 4).  Run 1 goes on only once the impatient run has ended."""
    project = store_project(make_project, store(middle=[NAP]))
    winner = start_napping_run(project, seconds=60)
    [winner_id] = journal_statuses(project)
    impatient = Background.start(project, "impatient", "migrate-safe", "--lock-timeout", "1")
    patient = Background.start(project, "patient", "migrate-safe", "--lock-timeout", "60")
    impatient_ended = eventually(lambda: not impatient.running, timeout=12)
    release_nap(project)
    won, lost_patiently, lost_impatiently = winner.result(), patient.result(), impatient.result()

    assert won.code == EXIT_OK, won
    assert_recorded_once(project, ALL)
    assert journal_statuses(project) == {winner_id: "succeeded"}  # the losers journal nothing
    assert impatient_ended, lost_impatiently
    assert lost_impatiently.code == EXIT_LOCKED, lost_impatiently
    assert f"run {winner_id} (migrate-safe)" in lost_impatiently.stderr, lost_impatiently
    # The patient run plans only once it holds the lock: the winner has applied everything by then.
    assert lost_patiently.code == EXIT_OK, lost_patiently
    assert "Nothing to migrate" in lost_patiently.stderr, lost_patiently


@pytest.mark.backends
def test_killed_run_shows_interrupted_and_next_run_works(make_project: MakeProject, backend: str) -> None:
    project = store_project(make_project, store(middle=[NAP]))
    killed = start_napping_run(project, seconds=120)
    killed.process.send_signal(signal.SIGKILL)
    assert killed.result().code == -signal.SIGKILL

    [run] = history(project)
    assert run["status"] == "interrupted"
    committed = keys("shop.0002_price") if backend == "mysql" else frozenset()  # MariaDB: step by step
    assert project.db.applied() == BEFORE | committed

    again = project.migtool("migrate-safe")
    assert again.code == EXIT_OK, again
    assert_recorded_once(project, ALL)
    assert [(r["status"], r["id"] == run["id"]) for r in history(project)] == [
        ("succeeded", False),
        ("interrupted", True),
    ]
    assert journal_statuses(project)[run["id"]] == "interrupted"  # marked for good by the next run


# --------------------------------------------------------------------------- 7: rollback --last


@pytest.mark.backends
def test_rollback_last_undoes_exactly_the_last_batch(make_project: MakeProject, backend: str) -> None:
    apps = store()
    project = make_project(only(apps, [("shop", "0001_item"), ("shop", "0002_price")]))
    first = project.migtool("migrate-safe")
    assert first.code == EXIT_OK, first
    project.db.execute("INSERT INTO shop_item (name, qty, price) VALUES ('pen', 3, 10)")
    stage(project, apps)
    before_second = snapshot_db(project)
    second = project.migtool("migrate-safe")
    assert second.code == EXIT_OK, second
    project.db.execute("INSERT INTO ledger_entry (item_id, note) SELECT id, 'a' FROM shop_item")

    undone = project.migtool("rollback", "--last", "--yes")
    assert undone.code == EXIT_OK, undone
    assert snapshot_db(project) == before_second  # shop.0001/0002 (first batch) and its row untouched

    runs = history(project, "--limit", "2")
    assert [(r["command"], r["status"]) for r in runs] == [
        ("rollback --last", "succeeded"),
        ("migrate-safe", "succeeded"),
    ]
    refused = project.migtool("rollback", "--last", "--dry-run")
    assert refused.code == EXIT_REFUSED, refused
    assert f"run {runs[0]['id']} (rollback --last" in refused.stderr, refused
    assert snapshot_db(project) == before_second

    # A migration applied by hand after the last migrate-safe run makes undoing that run unsafe.
    again = project.migtool("migrate-safe")
    assert again.code == EXIT_OK, again
    project.write_migration("ledger", "0003_extra", migration(deps=[("ledger", "0002_last")], ops=[AUDIT]))
    manual = project.manage("migrate", "ledger")
    assert manual.code == EXIT_OK, manual
    before_refusal = snapshot_db(project)
    refused = project.migtool("rollback", "--last", "--yes")
    assert refused.code == EXIT_REFUSED, refused
    assert "ledger.0003_extra" in refused.stderr, refused
    assert snapshot_db(project) == before_refusal


# --------------------------------------------------------------------------- 8: --require-reversible


@pytest.mark.backends
def test_require_reversible_refuses_only_where_the_batch_cannot_be_one_transaction(
    make_project: MakeProject, backend: str
) -> None:
    """shop.0003_middle is a RunPython without reverse_code: harmless in one transaction
    (PostgreSQL, SQLite), a batch that could not be undone on MariaDB."""
    project = store_project(make_project, store(middle=[IRREVERSIBLE]))
    before, tables = snapshot_db(project), project.db.tables()

    result = project.migtool("migrate-safe", "--require-reversible")
    if backend == "mysql":
        assert result.code == EXIT_REFUSED, result
        assert "Warning" in result.stderr and "shop.0003_middle" in result.stderr, result
        assert "--require-reversible" in result.stderr, result
        assert snapshot_db(project) == before
        assert project.db.tables() == tables  # not even the journal
    else:
        assert result.code == EXIT_OK, result
        assert "Warning" not in result.stderr, result
        assert_recorded_once(project, ALL)


# --------------------------------------------------------------------------- 9, 10: targets


@pytest.mark.backends
def test_release_reaches_exactly_the_frozen_release(make_project: MakeProject, backend: str) -> None:
    apps = store()
    release = keys("shop.0001_item", "shop.0002_price")
    project = make_project(only(apps, release))
    frozen = project.migtool("freeze", "--release", "r1")
    assert frozen.code == EXIT_OK, frozen
    stage(project, apps)  # shop.0003 and the ledger app came after r1

    done = project.migtool("migrate-safe", "--release", "r1")
    assert done.code == EXIT_OK, done
    assert_recorded_once(project, release)
    assert "ledger_entry" not in project.db.tables()
    assert history(project)[0]["release"] == "r1"

    migrated = project.manage("migrate")  # now the database has migrations outside r1
    assert migrated.code == EXIT_OK, migrated
    before = snapshot_db(project)
    refused = project.migtool("migrate-safe", "--release", "r1")
    assert refused.code == EXIT_REFUSED, refused
    assert "outside release r1" in refused.stderr and "migtool rollback r1" in refused.stderr, refused
    assert snapshot_db(project) == before


@pytest.mark.backends
def test_app_and_migration_targets_only_go_forwards(make_project: MakeProject, backend: str) -> None:
    project = make_project(store())

    done = project.migtool("migrate-safe", "shop", "0002")
    assert done.code == EXIT_OK, done
    assert_recorded_once(project, keys("shop.0001_item", "shop.0002_price"))
    before = snapshot_db(project)

    backwards = project.migtool("migrate-safe", "shop", "0001_item")
    assert backwards.code == EXIT_REFUSED, backwards
    assert "shop.0002_price" in backwards.stderr and "forwards" in backwards.stderr, backwards
    unknown = project.migtool("migrate-safe", "nosuchapp")
    assert unknown.code == EXIT_USAGE, unknown
    assert "nosuchapp" in unknown.stderr, unknown
    assert snapshot_db(project) == before


# --------------------------------------------------------------------------- 11: read-only


@pytest.mark.backends
def test_history_without_journal_is_read_only(make_project: MakeProject, backend: str) -> None:
    project = store_project(make_project, store())
    tables = project.db.tables()

    shown = project.migtool("history", "--format", "json")
    assert json_of(shown)["runs"] == []
    assert "No migtool runs" in shown.stderr
    missing = project.migtool("history", "1")
    assert missing.code == EXIT_USAGE, missing
    assert project.db.tables() == tables


# --------------------------------------------------------------------------- --traceback keeps every exit code


def _with_and_without_traceback(project: Project, *args: str, json_error: bool = True) -> tuple[Result, Result]:
    """Run ``args`` plainly, then with the traceback on: ``--traceback`` for commands that
    change the database, ``MIGTOOL_TRACEBACK=1`` for the others (both spellings are covered)."""
    plain = project.migtool(*args)
    if args[0] in ("rollback", "migrate-safe"):
        traced = project.migtool(*args, "--traceback")
    else:
        project.env["MIGTOOL_TRACEBACK"] = "1"
        traced = project.migtool(*args)
        del project.env["MIGTOOL_TRACEBACK"]
    return plain, traced


def assert_same_report(plain: Result, traced: Result, code: int) -> None:
    """The same exit code, Error/Hint lines and JSON error; the traceback only added before them."""
    assert plain.code == traced.code == code, (plain, traced)
    if code in (EXIT_OK, 1):
        assert "Traceback" not in traced.output, traced
        return
    assert "Traceback" in traced.stderr and "Traceback" not in plain.stderr, traced
    report = [line for line in plain.stderr.splitlines() if line.startswith(("Error: ", "Hint: "))]
    assert report and report[0].startswith("Error: ") and report[-1].startswith("Hint: "), plain
    assert traced.stderr.splitlines()[-len(report) :] == report, traced
    plain_error, traced_error = json.loads(plain.stdout)["error"], json.loads(traced.stdout)["error"]
    assert traced_error["exit_code"] == plain_error["exit_code"] == code
    assert (traced_error["type"], traced_error["hint"]) == (plain_error["type"], plain_error["hint"])


@pytest.mark.backends
def test_traceback_changes_no_exit_code(make_project: MakeProject, backend: str) -> None:
    """Every documented exit code, with and without the traceback: a deploy script that turned
    it on to debug still tells "refused, nothing touched" (4) from "failed, not restored" (7)."""
    project = store_project(make_project, store(last=[FAIL]))
    assert project.migtool("freeze", "--release", "1.0").code == EXIT_OK
    before = snapshot_db(project)
    json_ = ("--format", "json")
    cases = [
        (EXIT_OK, ("status", *json_)),
        (1, ("diff", "1.0", "--check")),  # shop.0004_later, written below, is not in 1.0
        (EXIT_USAGE, ("rollback", "9.9", *json_)),
        (3, ("status", "--database", "nope", *json_)),
        (EXIT_REFUSED, ("rollback", "1.0", "--yes", *json_)),  # 1.0 is not applied: refused
        (EXIT_RESTORED, ("migrate-safe", *json_)),
    ]
    project.write_migration("shop", "0004_later", migration(deps=[("shop", "0003_middle")]))
    for code, args in cases:
        assert_same_report(*_with_and_without_traceback(project, *args), code)
    assert snapshot_db(project) == before

    napping = store_project(make_project, store(middle=[NAP]))
    holder = start_napping_run(napping, seconds=60)
    try:
        assert_same_report(*_with_and_without_traceback(napping, "migrate-safe", "--lock-timeout", "0", *json_), 5)
    finally:
        release_nap(napping)
    assert holder.result().code == EXIT_OK

    results = []
    for _ in range(2):  # each run leaves the database changed: one fresh project per run
        half = store_project(make_project, store(last=[AUDIT, FAIL], last_atomic=False))
        results.append(half.migtool("migrate-safe", *json_, *(["--traceback"] if results else [])))
    assert_same_report(*results, EXIT_NOT_RESTORED)
