"""Running fleet targets as tasks on the project's own Celery workers (``--executor celery``).

Why it exists: a fleet of thousands of targets on several database servers
outgrows one process pool on one deploy host, and a Django shop already runs
Celery.  This module is the deploy side: it finds the project's Celery app,
sends one ``migtool.celery.migrate_target`` (or ``rollback_target``) task per
target to one queue, never more than ``--jobs`` at once, and turns each task's
state into the same ``TargetOutcome`` the local executor returns, so the
manifest, ``fleet status``, the exit codes and the live view are the same.

The worker side (``migtool.celery``) runs ``run_target``, the single-target
code path (lock, journal, one transaction or compensation), so the target's
own journal stays the source of truth; when the result backend has lost a
task's result, the outcome is read back from that journal.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, replace
from typing import Any

from migtool.api.fleet import MIGRATE, RESTORE, FleetOrder
from migtool.api.project import Project
from migtool.errors import ConfigurationError
from migtool.fleet.outcomes import FAILED, TargetOutcome
from migtool.fleet.targets import Target

INSTALL_HINT = "pip install 'migtool[celery]'"
DEFAULT_QUEUE = "migtool"
POLL_SECONDS = 0.2
JOURNAL_EVERY = 5.0  # seconds between reads of a waiting target's journal
FROM_JOURNAL = "outcome read from the target's journal: the result backend had none"


def outcome_to_payload(outcome: TargetOutcome) -> dict[str, Any]:
    """A task's JSON result: the outcome with its target as a label."""
    return {
        **asdict(outcome),
        "target": outcome.target.label,
        "warnings": list(outcome.warnings),
        "plan": list(outcome.plan),
    }


def outcome_from_payload(payload: dict[str, Any]) -> TargetOutcome:
    fields = {
        **payload,
        "target": Target.parse(payload["target"]),
        "warnings": tuple(payload["warnings"]),
        "plan": tuple(payload.get("plan", ())),
    }
    return TargetOutcome(**fields)


def order_to_payload(order: FleetOrder) -> dict[str, Any]:
    return asdict(order)


def order_from_payload(payload: dict[str, Any]) -> FleetOrder:
    return FleetOrder(**payload)


def task_name(order: FleetOrder) -> str:
    return "migtool.celery.migrate_target" if order.command == MIGRATE else "migtool.celery.rollback_target"


def find_celery_app(project: Project, name: str | None) -> Any:
    """The project's Celery app: ``--celery-app`` (``proj.celery:app``), else ``$CELERY_APP``,
    else ``<project>.celery`` beside the settings module (``proj.settings`` gives ``proj``)."""
    try:
        from celery.app.utils import find_app
    except ModuleNotFoundError:
        raise ConfigurationError("--executor celery needs Celery, which is not installed.", hint=INSTALL_HINT) from None
    from migtool.django_adapter import bootstrap

    project.setup()
    settings = bootstrap.settings_module(project.settings) or ""
    candidates = [name] if name else [os.environ["CELERY_APP"]] if os.environ.get("CELERY_APP") else []
    if not candidates and settings:
        candidates = [f"{settings.split('.')[0]}.celery"]
    if not candidates:
        raise ConfigurationError(
            "No Celery app found: no --celery-app, no CELERY_APP and no Django settings module.",
            hint="Name it: --celery-app proj.celery:app.",
        )
    try:
        return find_app(candidates[0])
    except Exception as exc:  # ImportError, AttributeError, or the app module failing
        raise ConfigurationError(
            f"Cannot load the Celery app {candidates[0]!r}: {type(exc).__name__}: {exc}.",
            hint="Name it with --celery-app MODULE:ATTRIBUTE (e.g. proj.celery:app), or set CELERY_APP.",
        ) from None


class CeleryExecutor:
    """Sends each target to the queue as a task and waits for its outcome."""

    def __init__(self, project: Project, app: Any, queue: str = DEFAULT_QUEUE) -> None:
        self.project, self.app, self.queue = project, app, queue

    def run_one(self, target: Target, order: FleetOrder) -> TargetOutcome:
        outcomes: list[TargetOutcome] = []
        self._run([target], order, 1, outcomes.append, keep_going=lambda: True)
        return outcomes[0]

    def run_many(self, targets: list[Target], order: FleetOrder, policy: Any, record: Any) -> bool:
        failed = False

        def note(outcome: TargetOutcome) -> None:
            nonlocal failed
            record(outcome)
            failed = failed or outcome.broken

        self._run(targets, order, policy.jobs, note, keep_going=lambda: not failed or policy.on_failure == "continue")
        return failed

    def warm_up(self, workers: int) -> None:
        """Nothing to start: the project's Celery workers are running already."""

    def close(self) -> None:
        """Nothing to let go of: the workers belong to the project."""

    def _run(self, targets: list[Target], order: FleetOrder, jobs: int, record: Any, keep_going: Any) -> None:
        """Keep up to ``jobs`` tasks in flight; ``keep_going()`` decides whether to send the next."""
        pending = iter(targets)
        running: dict[Target, tuple[Any, int | None, float]] = {}

        def send() -> None:
            target = next(pending, None)
            if target is not None:
                after_run = newest_run(self.project, target, order)
                args = [target.label, order_to_payload(order), after_run]
                result = self.app.send_task(task_name(order), args=args, queue=self.queue)
                running[target] = (result, after_run, time.monotonic())

        for _ in range(jobs):
            send()
        while running:
            time.sleep(POLL_SECONDS)
            for target, (result, after_run, checked) in list(running.items()):
                outcome = self._collect(target, order, result)
                if outcome is None and time.monotonic() - checked >= JOURNAL_EVERY:
                    outcome = journal_outcome(self.project, target, order, after_run)
                    if outcome is not None:
                        outcome = replace(outcome, warnings=(*outcome.warnings, FROM_JOURNAL))
                    running[target] = (result, after_run, time.monotonic())
                if outcome is None:
                    continue
                del running[target]
                record(outcome)
                if keep_going():
                    send()

    @staticmethod
    def _collect(target: Target, order: FleetOrder, result: Any) -> TargetOutcome | None:
        """The task's outcome once it is ready, or None while it is not."""
        state = result.state
        if state == "SUCCESS":
            return outcome_from_payload(result.result)
        if state == "FAILURE":  # the task itself broke (a bug in migtool, the worker lost)
            error = f"task {result.id} failed: {type(result.result).__name__}: {result.result}"
            return TargetOutcome(target, FAILED, error=error, error_type="internal")
        return None


DUPLICATE = "duplicate delivery"


def journal_outcome(
    project: Project, target: Target, order: FleetOrder, after_run: int | None = None
) -> TargetOutcome | None:
    """The target's outcome read from its own journal once its run of ``order`` in this
    fleet run (newer than ``after_run``) has finished, or None.

    A run still going, or interrupted (its worker was lost: the task is delivered
    again, acknowledged late), is not an outcome yet.
    """
    outcome, _ = journal_state(project, target, order, after_run)
    return outcome


def journal_state(
    project: Project, target: Target, order: FleetOrder, after_run: int | None
) -> tuple[TargetOutcome | None, bool]:
    """(the finished outcome or None, whether a run of ``order`` holds the target now)."""
    from migtool.api.fleet import outcome_from_runs
    from migtool.django_adapter.journal import INTERRUPTED, RUNNING, Journal
    from migtool.django_adapter.lock import is_locked
    from migtool.django_adapter.targets import target_connection

    project.setup()
    try:
        with target_connection(target) as connection:
            lock_free = not is_locked(connection, target.schema)
            runs = Journal(connection).fleet_runs(order.fleet_run, lock_free=lock_free)
    except ConfigurationError:
        return None, False
    mine = [r for r in runs if r.command == order.command and (after_run is None or r.id > after_run)]
    if not mine or mine[-1].status == INTERRUPTED:
        return None, False
    if mine[-1].status == RUNNING or not lock_free:
        return None, mine[-1].status == RUNNING
    if order.command == RESTORE:  # the restore and the forward run it undid
        mine = [r for r in runs if r.id < mine[-1].id and r.command != RESTORE][-1:] + mine[-1:]
    return outcome_from_runs(target, mine, fresh=False), False


def newest_run(project: Project, target: Target, order: FleetOrder) -> int | None:
    """The id of the target's newest run of ``order`` in this fleet run, if any: a task
    finds the runs newer than it made by an earlier delivery of itself."""
    from migtool.django_adapter.journal import Journal
    from migtool.django_adapter.targets import target_connection

    try:
        with target_connection(target) as connection:
            ids = [r.id for r in Journal(connection).fleet_runs(order.fleet_run) if r.command == order.command]
    except ConfigurationError:
        return None
    return max(ids, default=None)


def deliver(project: Project, target: Target, order: FleetOrder, after_run: int | None) -> TargetOutcome:
    """The worker's side of one task: ``run_target``, unless an earlier delivery of this
    same task (Redis after ``visibility_timeout``, a task given to two workers) already
    ran it; then that run's outcome, marked as a duplicate delivery.  A delivery whose
    twin is still running waits for it, so it never queues up for the lock and never
    runs the target a second time."""
    from migtool.api.fleet import run_target

    while True:
        found, busy = journal_state(project, target, order, after_run)
        if found is not None:
            note = f"{DUPLICATE}: run {found.run_id} of this task had already finished; nothing was run again"
            return replace(found, warnings=(*found.warnings, note))
        if not busy:
            return run_target(project, target, order)
        time.sleep(1.0)
