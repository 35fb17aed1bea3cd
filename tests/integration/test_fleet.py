"""Integration tests of fleet runs over several ``DATABASES`` aliases (issue 12).

Each test writes a real Django project whose aliases ``default``, ``t1``, ``t2``
and ``t3`` each have a database of their own, migrates them to ``shop.0001_item``
with Django's own ``migrate``, then adds the batch ``shop.0002_price`` and
``shop.0003_tag`` and runs a fleet.  Outcomes are checked in every target's own
database: ``django_migrations``, the columns of ``shop_item``, and the rows of
``shop_log``, where every migration's RunPython writes its name once per run
(so a migration that ran twice, or was left half done, is visible).

Failures and pauses are injected per alias through the environment:
``FLEET_FAIL=t2`` fails ``0003_tag`` on t2 before its DDL; ``FLEET_NAP=t2`` makes
``0002_price`` touch ``$FLEET_NAP_MARKER.t2`` and sleep before its DDL.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from projects import Project, ProjectFactory, migration
from scenarios import ITEM, add_field, create_model

ALIASES = ("default", "t1", "t2", "t3")
MATRIX = "MIGTOOL_FLEET_MATRIX"
EXIT_OK, EXIT_USAGE, EXIT_RESTORED = 0, 2, 6
BATCH = [("shop", "0002_price"), ("shop", "0003_tag")]

LOG_CODE = '''
import os
import pathlib
import time


def log(name):
    """RunPython pair that records ``name`` in shop_log (and removes it backwards),
    after the pauses and failures the test injects for this alias."""

    def forwards(apps, schema_editor):
        alias = schema_editor.connection.alias
        if alias in os.environ.get("FLEET_NAP", "").split(",") and name == "0002_price":
            pathlib.Path(os.environ["FLEET_NAP_MARKER"] + "." + alias).touch()
            time.sleep(float(os.environ.get("FLEET_NAP_SECONDS", "60")))
        if alias in os.environ.get("FLEET_FAIL", "").split(",") and name == "0003_tag":
            raise RuntimeError("injected failure on " + alias)
        apps.get_model("shop", "Log").objects.using(alias).create(name=name)

    def backwards(apps, schema_editor):
        apps.get_model("shop", "Log").objects.using(schema_editor.connection.alias).filter(name=name).delete()

    return forwards, backwards
'''
LOG = create_model("Log", name="models.CharField(max_length=40)")


def _shop_initial() -> dict[str, str]:
    return {"0001_item": migration(ops=[ITEM, LOG], preamble=LOG_CODE)}


def _batch() -> dict[str, str]:
    return {
        "0002_price": migration(
            deps=[("shop", "0001_item")],
            ops=[
                "migrations.RunPython(*log('0002_price'))",
                add_field("Item", "price", "models.IntegerField(null=True)"),
            ],
            preamble=LOG_CODE,
        ),
        "0003_tag": migration(
            deps=[("shop", "0002_price")],
            ops=["migrations.RunPython(*log('0003_tag'))", add_field("Item", "tag", "models.IntegerField(null=True)")],
            preamble=LOG_CODE,
        ),
    }


def fleet_project(make_project: ProjectFactory, aliases: tuple[str, ...] = ALIASES) -> Project:
    """Four aliases at shop.0001_item (migrated by Django), with the batch on disk."""
    project = make_project({"shop": _shop_initial()})
    make_project.add_aliases(project, [a for a in aliases if a != "default"])
    # Django's own migrate on every alias, in one process (one start-up instead of four).
    script = "import django, sys; django.setup(); from django.core.management import call_command; "
    script += "[call_command('migrate', database=alias, verbosity=0) for alias in sys.argv[1:]]"
    result = project.run([sys.executable, "-c", script, *aliases])
    assert result.ok, result
    for name, source in _batch().items():
        project.write_migration("shop", name, source)
    return project


def state(project: Project, alias: str) -> tuple[bool, bool, list[str]]:
    """(batch recorded, batch columns present, shop_log names) of one target, read from its database."""
    db = project.database(alias)
    applied = db.applied()
    recorded = all(key in applied for key in BATCH)
    assert recorded or not any(key in applied for key in BATCH), f"{alias} is half-migrated: {applied}"
    columns = db.columns("shop_item")
    present = {"price", "tag"} <= columns
    assert present or not ({"price", "tag"} & columns), f"{alias} has half the batch's columns: {columns}"
    assert recorded == present, f"{alias}: rows say {recorded}, schema says {present}"
    return recorded, present, sorted(r[0] for r in db.rows("SELECT name FROM shop_log"))


def migrated(project: Project, alias: str) -> bool:
    recorded, _, log = state(project, alias)
    assert log == (["0002_price", "0003_tag"] if recorded else []), f"{alias}: shop_log {log}"
    return recorded


def full_matrix_only(backend: str) -> None:
    """Keep ``make test`` within its budget: these cases run on SQLite there, and on every
    backend with ``make test-fleet`` (``MIGTOOL_FLEET_MATRIX=1``)."""
    if backend != "sqlite" and not os.environ.get(MATRIX):
        pytest.skip(f"{backend}: set {MATRIX}=1 (make test-fleet) to run this case on every backend")


def fleet_args(*aliases: str) -> list[str]:
    return [arg for alias in aliases for arg in ("--database", alias)]


def outcomes(result_stdout: str) -> dict[str, str]:
    payload = json.loads(result_stdout)
    assert payload["kind"] == "fleet"
    return {t["target"]: t["status"] for t in payload["targets"]}


# --------------------------------------------------------------------------- failure policies

EXPECTED = {
    # policy: (targets migrated afterwards, statuses)
    "stop": ({"default", "t1"}, {"default": "succeeded", "t1": "succeeded", "t2": "failed", "t3": "not started"}),
    "continue": (
        {"default", "t1", "t3"},
        {"default": "succeeded", "t1": "succeeded", "t2": "failed", "t3": "succeeded"},
    ),
    "rollback": (set(), {"default": "restored", "t1": "restored", "t2": "failed", "t3": "not started"}),
}


@pytest.mark.backends
@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_failure_in_one_target_changes_exactly_the_documented_targets(make_project, backend, policy):
    if policy != "rollback":
        full_matrix_only(backend)
    project = fleet_project(make_project)
    project.env["FLEET_FAIL"] = "t2"
    result = project.migtool("migrate-safe", *fleet_args(*ALIASES), "--on-failure", policy, "--format", "json")
    assert result.code == EXIT_RESTORED, result
    want_migrated, want_status = EXPECTED[policy]
    assert outcomes(result.stdout) == want_status, result
    assert {a for a in ALIASES if migrated(project, a)} == want_migrated
    assert f"1 {'failed'}" in result.stderr.splitlines()[-1], result

    # fleet status reads the same outcomes back from the targets' journals.
    run = json.loads(result.stdout)["fleet_run"]
    status = project.migtool("fleet", "status", run, *fleet_args(*ALIASES), "--format", "json")
    assert status.code == EXIT_RESTORED, status
    assert outcomes(status.stdout) == want_status, status
    journaled = {t["target"]: t["run_id"] for t in json.loads(status.stdout)["targets"]}
    assert journaled["t3"] is None if want_status["t3"] == "not started" else journaled["t3"] is not None


def test_jobs_run_the_rest_in_worker_processes_and_continue_past_a_failure(make_project, tmp_path):
    project = fleet_project(make_project)
    project.env["FLEET_FAIL"] = "t1"
    manifest = tmp_path / "out.json"
    result = project.migtool(
        "migrate-safe", "--all-databases", "--jobs", "2", "--on-failure", "continue", "--format", "json",
        "--manifest", str(manifest),
    )  # fmt: skip
    assert result.code == EXIT_RESTORED, result
    assert json.loads(manifest.read_text()) == json.loads(result.stdout)
    assert outcomes(result.stdout) == {"default": "succeeded", "t1": "failed", "t2": "succeeded", "t3": "succeeded"}
    assert {a for a in ALIASES if migrated(project, a)} == {"default", "t2", "t3"}
    # Without a terminal: one line per finished target, then the counts.
    finished = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(finished) == 4, result
    assert result.stderr.splitlines()[-1].endswith("4 target(s): 3 succeeded, 1 failed."), result


@pytest.mark.backends
def test_a_canary_failure_touches_nothing_else(make_project, backend):
    full_matrix_only(backend)
    project = fleet_project(make_project)
    project.env["FLEET_FAIL"] = "t1"
    result = project.migtool(
        "migrate-safe", *fleet_args(*ALIASES), "--canary", "1", "--on-failure", "continue", "--jobs", "2",
        "--format", "json",
    )  # fmt: skip
    assert result.code == EXIT_RESTORED, result
    assert outcomes(result.stdout) == {
        "default": "succeeded", "t1": "failed", "t2": "not started", "t3": "not started",
    }  # fmt: skip
    assert {a for a in ALIASES if migrated(project, a)} == {"default"}
    for alias in ("t2", "t3"):
        assert "migtool_run" not in project.database(alias).tables(), f"{alias} was touched"


# --------------------------------------------------------------------------- skip, resume, concurrency


@pytest.mark.backends
def test_up_to_date_targets_are_skipped_without_a_write(make_project, backend):
    full_matrix_only(backend)
    project = fleet_project(make_project)
    first = project.migtool("migrate-safe", *fleet_args("default", "t1"))
    assert first.ok, first
    before = {a: project.database(a).rows("SELECT * FROM django_migrations ORDER BY id") for a in ALIASES}
    runs = {a: project.database(a).rows("SELECT COUNT(*) FROM migtool_run") for a in ("default", "t1")}
    result = project.migtool("migrate-safe", *fleet_args(*ALIASES), "--format", "json")
    assert result.ok, result
    got = outcomes(result.stdout)
    assert got == {"default": "skipped: up to date", "t1": "skipped: up to date", "t2": "succeeded", "t3": "succeeded"}
    for alias in ("default", "t1"):
        assert project.database(alias).rows("SELECT * FROM django_migrations ORDER BY id") == before[alias]
        assert project.database(alias).rows("SELECT COUNT(*) FROM migtool_run") == runs[alias]
    assert all(migrated(project, a) for a in ALIASES)


@pytest.mark.backends
def test_resume_after_sigkill_of_the_whole_fleet_finishes_the_rest_running_nothing_twice(
    make_project, tmp_path, backend
):
    project = fleet_project(make_project)
    marker = tmp_path / "nap"
    project.env.update(FLEET_NAP="t2", FLEET_NAP_MARKER=str(marker), FLEET_NAP_SECONDS="60")
    manifest = tmp_path / "manifest.json"
    child = subprocess.Popen(
        [sys.executable, "-m", "migtool", "migrate-safe", *fleet_args(*ALIASES), "--manifest", str(manifest)],
        cwd=project.root, env=project.child_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{marker}.t2").exists():
            assert child.poll() is None and time.monotonic() < deadline, child.communicate()
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
    assert not manifest.exists()
    assert [migrated(project, a) for a in ALIASES] == [True, True, False, False]
    run = project.database("default").rows("SELECT fleet_run FROM migtool_run")[0][0]
    status = project.migtool("fleet", "status", run, *fleet_args(*ALIASES), "--format", "json")
    assert outcomes(status.stdout) == {
        "default": "succeeded", "t1": "succeeded", "t2": "failed", "t3": "not started",
    }, status  # fmt: skip
    assert "interrupted" in json.loads(status.stdout)["targets"][2]["error"], status

    project.env.pop("FLEET_NAP")
    resumed = project.migtool("fleet", "resume", run, *fleet_args(*ALIASES), "--jobs", "2", "--format", "json")
    assert resumed.ok, resumed
    assert outcomes(resumed.stdout) == {"t2": "succeeded", "t3": "succeeded"}
    assert all(migrated(project, a) for a in ALIASES)  # shop_log: each migration ran exactly once
    for alias in ALIASES:
        db = project.database(alias)
        assert all(db.migration_row_count(*key) == 1 for key in BATCH), alias
        done = db.rows("SELECT s.name FROM migtool_run_step s WHERE s.outcome = 'done' ORDER BY s.name")
        assert [r[0] for r in done] == ["0002_price", "0003_tag"], (alias, done)
    final = project.migtool("fleet", "status", run, *fleet_args(*ALIASES), "--format", "json")
    assert final.ok and set(outcomes(final.stdout).values()) == {"succeeded"}, final


@pytest.mark.backends
def test_two_concurrent_fleet_runs_over_overlapping_targets_migrate_each_target_once(make_project, backend):
    full_matrix_only(backend)
    project = fleet_project(make_project)
    project.env.update(FLEET_NAP="t1,t2", FLEET_NAP_MARKER=str(project.root / "nap"), FLEET_NAP_SECONDS="1")
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "migtool", "migrate-safe", *fleet_args(*aliases), "--jobs", "2", "--format", "json"],
            cwd=project.root,
            env=project.child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for aliases in (("default", "t1", "t2"), ("t1", "t2", "t3"))
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    statuses = [outcomes(out) for out, _ in results]
    for alias in ("t1", "t2"):  # migrated by exactly one of the runs, found up to date by the other
        assert sorted(s[alias] for s in statuses) == ["skipped: up to date", "succeeded"], statuses
    assert all(migrated(project, a) for a in ALIASES)
    for alias in ALIASES:
        assert project.database(alias).rows("SELECT COUNT(*) FROM migtool_run WHERE status = 'succeeded'") == [(1,)]


@contextlib.contextmanager
def holding_lock(project: Project, alias: str):
    """Hold migtool's lock on ``alias`` from outside migtool, as another run would."""
    db = project.database(alias)
    if db.backend == "sqlite":
        with open(f"{db.name}.migtool-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    if db.backend != "postgresql":
        pytest.skip("the lock is held from outside migtool on SQLite and PostgreSQL only")
    conn = db.connect()
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", [int.from_bytes(b"migtool", "big")])
        yield
    finally:
        conn.close()


@pytest.mark.backends
def test_a_target_refused_before_its_run_began_shows_refused_with_its_reason(make_project, backend):
    project = fleet_project(make_project)
    with holding_lock(project, "t2"):
        result = project.migtool(
            "migrate-safe", *fleet_args(*ALIASES), "--on-failure", "continue", "--lock-timeout", "0",
            "--format", "json",
        )  # fmt: skip
        assert result.code == 5, result  # the lock held: the worst target's code
        status = project.migtool("fleet", "status", *fleet_args(*ALIASES), "--format", "json")
    want = {"default": "succeeded", "t1": "succeeded", "t2": "refused", "t3": "succeeded"}
    assert outcomes(result.stdout) == want, result
    assert [migrated(project, a) for a in ALIASES] == [True, True, False, True]
    # Read back from t2's own journal: refused, with the reason, and nothing else written.
    assert status.code == 5 and outcomes(status.stdout) == want, status
    row = {t["target"]: t for t in json.loads(status.stdout)["targets"]}["t2"]
    assert "holds the lock" in row["error"] and row["applied"] == 0, row
    t2 = project.database("t2")
    assert t2.rows("SELECT status FROM migtool_run") == [("refused",)]
    assert t2.rows("SELECT COUNT(*) FROM migtool_run_step") == [(0,)]

    run = json.loads(result.stdout)["fleet_run"]
    resumed = project.migtool("fleet", "resume", run, *fleet_args(*ALIASES), "--format", "json")
    assert resumed.ok and outcomes(resumed.stdout) == {"t2": "succeeded"}, resumed
    assert all(migrated(project, a) for a in ALIASES)
    # rollback --last is not blocked by the refusal row: it changed nothing.
    back = project.migtool("rollback", "--last", "--yes", "--database", "t2")
    assert back.ok and not migrated(project, "t2"), back


def snapshot(project: Project) -> dict[str, tuple]:
    """What a dry run must leave alone, per target: django_migrations rows, tables, shop_item's columns."""
    dbs = {a: project.database(a) for a in ALIASES}
    return {
        a: (db.rows("SELECT app, name FROM django_migrations ORDER BY id"), db.tables(), db.columns("shop_item"))
        for a, db in dbs.items()
    }


@pytest.mark.backends
def test_a_fleet_dry_run_plans_each_target_and_touches_nothing(make_project, backend):
    project = fleet_project(make_project)
    assert project.migtool("migrate-safe", *fleet_args("t1", "t2")).ok
    before = snapshot(project)
    runs = {a: project.database(a).rows("SELECT id, status FROM migtool_run") for a in ("t1", "t2")}

    forward = project.migtool("migrate-safe", "--dry-run", *fleet_args(*ALIASES), "--format", "json")
    assert forward.ok, forward
    targets = {t["target"]: t for t in json.loads(forward.stdout)["targets"]}
    assert {a: t["status"] for a, t in targets.items()} == {
        "default": "would run", "t1": "skipped: up to date", "t2": "skipped: up to date", "t3": "would run",
    }, forward  # fmt: skip
    assert targets["t3"]["plan"] == ["shop.0002_price", "shop.0003_tag"] and targets["t3"]["applied"] == 2

    # default and t3 have no migrate-safe run to undo: refused (exit 4), journaled nowhere; all are planned.
    back = project.migtool("rollback", "--last", "--dry-run", *fleet_args(*ALIASES), "--format", "json")
    assert back.code == 4, back
    targets = {t["target"]: t for t in json.loads(back.stdout)["targets"]}
    assert [targets[a]["status"] for a in ALIASES] == ["refused", "would run", "would run", "refused"], back
    assert targets["t2"]["plan"] == ["shop.0003_tag", "shop.0002_price"], back

    assert snapshot(project) == before
    assert "migtool_run" not in project.database("default").tables()
    assert "migtool_run" not in project.database("t3").tables()
    assert {a: project.database(a).rows("SELECT id, status FROM migtool_run") for a in ("t1", "t2")} == runs
    assert [migrated(project, a) for a in ALIASES] == [False, True, True, False]


# --------------------------------------------------------------------------- naming a fleet, reads


def test_fleet_file_and_setting_name_targets_and_their_order(make_project, tmp_path):
    project = fleet_project(make_project)
    (tmp_path / "fleet.toml").write_text('targets = ["t3", "t1"]\n')
    result = project.migtool("migrate-safe", "--fleet", str(tmp_path / "fleet.toml"), "--format", "json")
    assert result.ok, result
    assert list(outcomes(result.stdout)) == ["t3", "t1"]
    assert [migrated(project, a) for a in ALIASES] == [False, True, False, True]

    project.extra_settings = 'MIGTOOL_FLEET = {"targets": ["t2", "default"]}'
    project.write_settings()
    result = project.migtool("migrate-safe", "--fleet", "settings", "--format", "json")
    assert result.ok and list(outcomes(result.stdout)) == ["t2", "default"], result
    assert all(migrated(project, a) for a in ALIASES)
    # With no targets named, the fleet commands use MIGTOOL_FLEET.
    status = project.migtool("fleet", "status", "--format", "json")
    assert status.ok and outcomes(status.stdout) == {"t2": "succeeded", "default": "succeeded"}, status


def test_bad_fleet_input_is_one_error_line_and_touches_nothing(make_project, tmp_path):
    project = fleet_project(make_project)
    (tmp_path / "bad.toml").write_text("targets = 3\n")
    for args, code in (
        (["--fleet", str(tmp_path / "bad.toml")], EXIT_USAGE),
        (["--fleet", str(tmp_path / "missing.toml")], EXIT_USAGE),
        (["--database", "default", "--database", "nope"], 3),
        (["--database", "default", "--database", "a:b:c"], EXIT_USAGE),
    ):
        result = project.migtool("migrate-safe", *args)
        assert result.code == code, result
        assert result.stderr.startswith("Error: ") and "Hint: " in result.stderr and "Traceback" not in result.stderr
    assert not any(migrated(project, a) for a in ALIASES)


def test_status_doctor_and_rollback_take_a_fleet(make_project):
    project = fleet_project(make_project)
    assert project.migtool("freeze", "--release", "1.0").ok
    assert project.migtool("migrate-safe", *fleet_args("t1", "t2")).ok
    status = project.migtool("status", "--all-databases", "--format", "json")
    assert status.ok, status
    reports = {r["target"]: r for r in json.loads(status.stdout)["targets"]}
    assert [reports[a]["apps"][0]["unapplied"] for a in ALIASES] == [
        ["0002_price", "0003_tag"], [], [], ["0002_price", "0003_tag"],
    ]  # fmt: skip
    doctor = project.migtool("doctor", "--all-databases")
    assert doctor.ok, doctor
    assert all(a in doctor.stdout for a in ALIASES)

    back = project.migtool("rollback", "--last", "--yes", *fleet_args("t1", "t2", "t3"), "--format", "json")
    assert back.code == 4, back  # t3 has no migrate-safe run to undo: refused, untouched
    assert outcomes(back.stdout) == {"t1": "succeeded", "t2": "succeeded", "t3": "refused"}
    assert not any(migrated(project, a) for a in ALIASES)


def test_a_journal_from_before_fleets_is_read_as_it_is_and_extended_on_the_next_write(make_project):
    project = fleet_project(make_project)
    assert project.migtool("migrate-safe", "--database", "t1").ok
    old = project.database("t1")
    old.execute("ALTER TABLE migtool_run DROP COLUMN fleet_run")  # the journal as migtool 0.x wrote it
    history = project.migtool("history", "--database", "t1", "--format", "json")
    assert history.ok and [r["command"] for r in json.loads(history.stdout)["runs"]] == ["migrate-safe"], history

    skipped = project.migtool("migrate-safe", *fleet_args("t1", "t2"), "--format", "json")
    assert outcomes(skipped.stdout) == {"t1": "skipped: up to date", "t2": "succeeded"}, skipped
    assert "fleet_run" not in old.columns("migtool_run")  # a skip writes nothing, not even the column

    back = project.migtool("rollback", "--last", "--yes", *fleet_args("t1", "t2"), "--format", "json")
    assert back.ok and outcomes(back.stdout) == {"t1": "succeeded", "t2": "succeeded"}, back
    assert "fleet_run" in old.columns("migtool_run")
    run = json.loads(back.stdout)["fleet_run"]
    assert old.rows("SELECT command, fleet_run FROM migtool_run ORDER BY id") == [
        ("migrate-safe", None), ("rollback --last", run),
    ]  # fmt: skip
    assert not migrated(project, "t1") and not migrated(project, "t2")


@pytest.mark.backends
def test_a_fleet_rollback_after_a_code_downgrade_uses_each_targets_own_stored_sources(make_project, backend):
    """t1 applied 0002/0003 as first written, t2 an edited 0002 (its RunPython logs another
    name); then the code goes back to 0001.  Each target's revert must run its own source."""
    full_matrix_only(backend)
    project = fleet_project(make_project)
    assert project.migtool("migrate-safe", "--database", "t1").ok
    edited = _batch()["0002_price"].replace("log('0002_price')", "log('0002_edited')")
    project.remove_migration("shop", "0003_tag")
    project.write_migration("shop", "0002_price", edited)
    assert project.migtool("migrate-safe", "--database", "t2").ok
    assert [r[0] for r in project.database("t2").rows("SELECT name FROM shop_log")] == ["0002_edited"]
    project.remove_migration("shop", "0002_price")  # the code downgrade: only 0001 is on disk

    back = project.migtool("rollback", "--last", "--yes", *fleet_args("t1", "t2"), "--format", "json")
    assert back.ok, back
    assert {t["target"]: (t["status"], t["applied"]) for t in json.loads(back.stdout)["targets"]} == {
        "t1": ("succeeded", 2), "t2": ("succeeded", 1),
    }, back  # fmt: skip
    for alias in ("t1", "t2"):  # each revert removed its own log row: the target's own stored source ran
        assert state(project, alias) == (False, False, []), alias
        assert project.database(alias).applied() >= {("shop", "0001_item")}
