"""migtool's Celery tasks: one fleet target migrated or rolled back on a worker.

Why it exists: ``--executor celery`` (``migtool.fleet.celery_executor``) sends
each target of a fleet run to the project's own Celery workers.  Register the
tasks by importing this module in the project's Celery app (``import
migtool.celery``) or with ``app.autodiscover_tasks(["migtool"])``; start a
worker on the queue: ``celery -A proj worker -Q migtool``.

The tasks run ``migtool.api.fleet.run_target``, the same single-target path as
the local executor: the target's lock, its journal, one transaction or
compensation.  They are acknowledged late and rejected (so redelivered) when
their worker is lost: delivery is at least once, and the lock plus the journal
keep each target's migration from running twice: a delivery that finds the
run an earlier delivery of the same task made reports that run's outcome,
marked (and logged) as a duplicate delivery, and runs nothing.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.utils.log import get_task_logger

from migtool.api.project import Project
from migtool.fleet.celery_executor import DUPLICATE, deliver, order_from_payload, outcome_to_payload
from migtool.fleet.targets import Target

logger = get_task_logger(__name__)

_PROJECT: Project | None = None


def _project() -> Project:
    """The worker's project (its settings, its releases), set up and its graph loaded once."""
    global _PROJECT
    if _PROJECT is None:
        _PROJECT = Project()
        _PROJECT.setup()
        _ = _PROJECT.graph
    return _PROJECT


def _run(target: str, order: dict[str, Any], after_run: int | None) -> dict[str, Any]:
    outcome = deliver(_project(), Target.parse(target), order_from_payload(order), after_run)
    if any(w.startswith(DUPLICATE) for w in outcome.warnings):
        logger.warning("migtool: %s of %s: %s", DUPLICATE, target, outcome.warnings[-1])
    return outcome_to_payload(outcome)


@shared_task(name="migtool.celery.migrate_target", acks_late=True, reject_on_worker_lost=True)
def migrate_target(target: str, order: dict[str, Any], after_run: int | None = None) -> dict[str, Any]:
    """``migrate-safe`` of one fleet target (``ALIAS`` or ``ALIAS:SCHEMA``); returns its outcome.

    ``after_run``: the target's newest run of this fleet run when the task was sent;
    a newer one was made by an earlier delivery of this task."""
    return _run(target, order, after_run)


@shared_task(name="migtool.celery.rollback_target", acks_late=True, reject_on_worker_lost=True)
def rollback_target(target: str, order: dict[str, Any], after_run: int | None = None) -> dict[str, Any]:
    """``rollback``, ``rollback --last`` or a fleet restore of one target; returns its outcome."""
    return _run(target, order, after_run)
