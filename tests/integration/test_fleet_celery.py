"""Fleet runs on real Celery workers (``--executor celery``, issue 17).

Two real ``celery worker`` processes (solo pool) take the tasks from a real
Redis broker, on a queue of this test's own (so concurrent CI legs never share
one); no eager mode.  Outcomes are checked in each target's own database.

Marked ``default_leg``: what is tested here is delivery through the broker and
the workers, which does not depend on Django's version (the single-target path
the workers run is tested on every leg by test_fleet.py), and each test starts
worker processes, which is heavy on CI's two cores.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import Project
from test_fleet import ALIASES, BATCH, EXIT_RESTORED, EXPECTED, fleet_args, fleet_project, migrated, outcomes

pytestmark = pytest.mark.default_leg
REDIS = "redis://127.0.0.1:6379/15"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
CELERY_APP = """
import os

from celery import Celery

app = Celery("proj", broker=os.environ["TEST_BROKER"], backend=os.environ["TEST_BACKEND"])
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
app.conf.task_ignore_result = bool(os.environ.get("TEST_IGNORE_RESULT"))  # a backend that keeps nothing
if os.environ.get("TEST_VISIBILITY"):  # seconds before Redis delivers an unacknowledged task again
    app.conf.broker_transport_options = {
        "visibility_timeout": float(os.environ["TEST_VISIBILITY"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

import migtool.celery  # noqa: E402,F401  (registers migtool's tasks)
"""


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The worker processes a test starts (``start_workers``), killed at teardown."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def start_workers(
    project: Project, queue: str, procs: list[subprocess.Popen[bytes]], count: int = 2, **env: str
) -> None:
    logs = []
    for _ in range(count):
        n = len(procs)
        log = project.root / f"worker{n}.log"
        logs.append(log)
        argv = [sys.executable, "-m", "celery", "-A", "proj_celery", "worker", "-Q", queue, "--pool", "solo"]
        argv += ["-n", f"w{n}-{queue}@%h", "--without-mingle", "--without-gossip", "-l", "info"]
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    argv,
                    cwd=project.root,
                    env={**project.child_env(), **env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    deadline = time.monotonic() + 60
    while not all("ready." in log.read_text() for log in logs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs[-count:]), [
            f.read_text() for f in logs
        ]
        time.sleep(0.2)


TARGETS = ("default", "t1", "pg")


def celery_project(make_project, queue: str) -> Project:
    """SQLite ``default`` and ``t1`` and a PostgreSQL ``pg``, at shop.0001 with the batch on disk."""
    project = fleet_project(make_project, ("default", "t1"))
    make_project.add_aliases(project, ["pg"], "postgresql")
    assert project.manage("migrate", "--database", "pg", "shop", "0001", "-v0").ok
    (project.root / "proj_celery.py").write_text(CELERY_APP)
    project.env.update(TEST_BROKER=REDIS, TEST_BACKEND=REDIS, CELERY_APP="proj_celery")
    return project


def test_a_fleet_runs_on_two_celery_workers_and_reports_as_local(make_project, workers, tmp_path, require_service):
    require_service("redis")
    queue = f"migtool-test-{secrets.token_hex(4)}"
    project = celery_project(make_project, queue)
    start_workers(project, queue, workers)
    manifest = tmp_path / "manifest.json"
    result = project.migtool(
        "migrate-safe", "--all-databases", "--executor", "celery", "--queue", queue, "--jobs", "2",
        "--format", "json", "--manifest", str(manifest),
    )  # fmt: skip
    assert result.ok, (result, [(project.root / f"worker{n}.log").read_text() for n in range(2)])
    assert outcomes(result.stdout) == {a: "succeeded" for a in TARGETS}
    assert json.loads(manifest.read_text()) == json.loads(result.stdout)
    assert all(migrated(project, a) for a in TARGETS)
    for alias in TARGETS:
        db = project.database(alias)
        assert all(db.migration_row_count(*key) == 1 for key in BATCH), alias
        assert db.rows("SELECT status, fleet_run FROM migtool_run") == [
            ("succeeded", json.loads(result.stdout)["fleet_run"])
        ]
    logs = "".join((project.root / f"worker{n}.log").read_text() for n in range(2))
    assert logs.count("migtool.celery.migrate_target") >= 3, logs
    status = project.migtool("fleet", "status", "--all-databases", "--format", "json")
    assert status.ok and outcomes(status.stdout) == outcomes(result.stdout), status

    # The broker delivers pg's task again (same task, same arguments, as Redis does after
    # visibility_timeout): the worker finds the run it made, reports it, runs nothing.
    from celery import Celery

    run = json.loads(result.stdout)["fleet_run"]
    order = {"command": "migrate-safe", "fleet_run": run, "release": None, "lock_timeout": 60.0}
    order |= {"require_reversible": False, "allow_drift": False}
    again = Celery(broker=REDIS, backend=REDIS).send_task(
        "migtool.celery.migrate_target", args=["pg", order, None], queue=queue
    )
    payload = again.get(timeout=60)
    assert payload["status"] == "succeeded" and payload["run_id"] is not None, payload
    assert payload["warnings"][-1].startswith(f"duplicate delivery: run {payload['run_id']} "), payload
    assert migrated(project, "pg") and project.database("pg").rows("SELECT COUNT(*) FROM migtool_run") == [(1,)]
    assert "duplicate delivery of pg" in "".join((project.root / f"worker{n}.log").read_text() for n in range(2))


def test_without_celery_installed_the_celery_executor_says_what_to_install(make_project):
    project = fleet_project(make_project, ("default", "t1"))
    hide_celery = "import sys; sys.modules['celery'] = None; from migtool.cli import main; main()"
    result = project.run([sys.executable, "-c", hide_celery, "migrate-safe", "--all-databases", "--executor", "celery"])
    assert result.code == 3, result
    assert result.stderr.splitlines()[0] == "Error: --executor celery needs Celery, which is not installed.", result
    assert "pip install 'migtool[celery]'" in result.stderr and "Traceback" not in result.stderr, result
    assert not any(migrated(project, a) for a in ("default", "t1"))
    assert "migtool_run" not in project.db.tables()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_worker_killed_mid_target_leaves_it_whole_and_the_redelivery_finishes_it(
    make_project, workers, tmp_path, require_service, broker
):
    """Redis delivers the task again after visibility_timeout, RabbitMQ when the dead
    worker's connection closes; the result backend is Redis either way."""
    require_service("redis")
    require_service(broker)
    queue = f"migtool-test-{secrets.token_hex(4)}"
    project = celery_project(make_project, queue)
    project.env["TEST_BROKER"] = REDIS if broker == "redis" else RABBITMQ
    project.env["TEST_VISIBILITY"] = "2"
    marker = tmp_path / "nap"
    start_workers(project, queue, workers, 1, FLEET_NAP="t1", FLEET_NAP_MARKER=str(marker), FLEET_NAP_SECONDS="60")
    fleet = subprocess.Popen(
        [sys.executable, "-m", "migtool", "migrate-safe", "--database", "default", "--database", "t1",
         "--executor", "celery", "--queue", queue, "--format", "json"],
        cwd=project.root, env=project.child_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{marker}.t1").exists():
            assert fleet.poll() is None and time.monotonic() < deadline, fleet.communicate()
            time.sleep(0.1)
        os.kill(workers[0].pid, signal.SIGKILL)  # mid-target: t1's batch has begun, its first migration naps
        workers[0].wait()
        assert not migrated(project, "t1")  # rolled back with the dead connection: never half-applied
        start_workers(project, queue, workers, 1)  # the survivor gets the task again (visibility timeout)
        out, err = fleet.communicate(timeout=90)
    finally:
        fleet.kill()
    assert fleet.returncode == 0, (out, err, (project.root / "worker1.log").read_text())
    assert outcomes(out) == {"default": "succeeded", "t1": "succeeded"}
    assert all(migrated(project, a) for a in ("default", "t1"))  # shop_log: each migration ran once
    db = project.database("t1")
    assert all(db.migration_row_count(*key) == 1 for key in BATCH)
    assert db.rows("SELECT status FROM migtool_run ORDER BY id") == [("interrupted",), ("succeeded",)]


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_a_failure_in_one_target_on_celery_follows_the_policy_as_local(make_project, workers, policy, require_service):
    require_service("redis")
    queue = f"migtool-test-{secrets.token_hex(4)}"
    project = fleet_project(make_project)
    (project.root / "proj_celery.py").write_text(CELERY_APP)
    project.env.update(TEST_BROKER=REDIS, TEST_BACKEND=REDIS, FLEET_FAIL="t2")
    start_workers(project, queue, workers)
    args = ["--executor", "celery", "--celery-app", "proj_celery:app", "--queue", queue, "--format", "json"]
    result = project.migtool("migrate-safe", *fleet_args(*ALIASES), "--on-failure", policy, *args)
    assert result.code == EXIT_RESTORED, result
    want_migrated, want_status = EXPECTED[policy]
    assert outcomes(result.stdout) == want_status, result
    assert {a for a in ALIASES if migrated(project, a)} == want_migrated
    status = project.migtool("fleet", "status", *fleet_args(*ALIASES), "--format", "json")
    assert status.code == EXIT_RESTORED and outcomes(status.stdout) == want_status, status
    if policy != "stop":
        return
    # Fixed (new workers, without the failure), fleet resume finishes the run on Celery.
    for proc in workers:
        proc.kill()
        proc.wait()
    project.env.pop("FLEET_FAIL")
    start_workers(project, queue, workers)
    run = json.loads(result.stdout)["fleet_run"]
    resumed = project.migtool("fleet", "resume", run, *fleet_args(*ALIASES), "--jobs", "2", *args)
    assert resumed.ok and outcomes(resumed.stdout) == {"t2": "succeeded", "t3": "succeeded"}, resumed
    assert all(migrated(project, a) for a in ALIASES)  # shop_log: each migration ran exactly once
    for alias in ALIASES:
        assert all(project.database(alias).migration_row_count(*key) == 1 for key in BATCH), alias


def test_outcomes_the_result_backend_never_got_are_read_from_the_journals(make_project, workers, require_service):
    require_service("redis")
    queue = f"migtool-test-{secrets.token_hex(4)}"
    project = celery_project(make_project, queue)
    start_workers(project, queue, workers, TEST_IGNORE_RESULT="1")
    result = project.migtool(
        "migrate-safe", "--all-databases", "--executor", "celery", "--queue", queue, "--jobs", "2", "--format", "json"
    )
    assert result.ok and outcomes(result.stdout) == {a: "succeeded" for a in TARGETS}, result
    assert result.stderr.count("outcome read from the target's journal") == len(TARGETS), result
    assert all(migrated(project, a) for a in TARGETS)
