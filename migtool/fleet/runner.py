"""Running one order over a fleet: canaries first, then up to ``jobs`` targets at once.

Why it exists: the order of targets and what a failure does to the rest are
the fleet's own decisions, apart from the work on each target
(``migtool.api.fleet.run_target``, a plain function of target and order).

* The canaries (the first target, and ``canary`` more) run one by one in this
  process.  If one fails, nothing else is touched.
* The rest run in worker processes, each of which sets up the project and
  loads the migration graph once, for every target it is given.
* ``on_failure``: ``stop`` starts no new target after a failure and lets the
  running ones finish; ``continue`` attempts every target; ``rollback`` stops
  likewise, then restores every target this fleet run migrated, newest first.
* A dry run (``order.dry_run``) plans every target, whatever fails.

Where a target's work runs is the ``Executor``'s business: ``LocalExecutor``
(this process and a process pool) by default, or ``celery_executor.CeleryExecutor``
(the project's Celery workers).  The order of targets and the policy stay here.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing import get_context
from typing import Protocol

from migtool.api.fleet import FleetOrder, run_target
from migtool.api.project import Project
from migtool.fleet.outcomes import FAILED, NOT_STARTED, SUCCEEDED, UP_TO_DATE, TargetOutcome
from migtool.fleet.targets import Target

POLICIES = ("stop", "continue", "rollback")
Report = Callable[[TargetOutcome], None]


class Executor(Protocol):
    """Where targets' work runs: one target at a time (canaries, restores), or the rest,
    up to ``policy.jobs`` at once; either way each outcome comes from ``run_target``."""

    def run_one(self, target: Target, order: FleetOrder) -> TargetOutcome: ...

    def run_many(self, targets: list[Target], order: FleetOrder, policy: Policy, record: Report) -> bool:
        """Run ``targets``, calling ``record`` as each finishes; after a failure start no
        new one unless ``policy.on_failure`` is ``continue``.  Return whether one failed."""
        ...

    def warm_up(self, workers: int) -> None:
        """Get ``workers`` workers ready for ``run_many`` while the canaries run; touches
        no target."""

    def close(self) -> None:
        """Let go of the workers; called once the fleet run is over."""


class LocalExecutor:
    """This process for one target at a time, a pool of worker processes for the rest.

    The pool is started (``warm_up``) before the canaries run, so the workers'
    start (a new interpreter, the project set up, the migration files read)
    overlaps the canaries instead of following them.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.pool: ProcessPoolExecutor | None = None

    def run_one(self, target: Target, order: FleetOrder) -> TargetOutcome:
        return run_target(self.project, target, order)

    def run_many(self, targets: list[Target], order: FleetOrder, policy: Policy, record: Report) -> bool:
        self.warm_up(min(policy.jobs, len(targets)))  # started already while the canaries ran
        return _run_rest(self.project, targets, order, policy, record, self.pool)

    def warm_up(self, workers: int) -> None:
        if workers <= 1 or self.pool is not None:
            return
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),  # no fork: this process holds connections and maybe a live view thread
            initializer=_start_worker,
            initargs=(self.project.settings, self.project.pythonpath, self.project.releases_dir),
        )
        for _ in range(workers):  # a pool starts a process per submitted task, up to max_workers
            self.pool.submit(_ready)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


@dataclass(frozen=True)
class Policy:
    jobs: int = 1
    canary: int = 0
    on_failure: str = "stop"


def run_fleet(
    project: Project,
    targets: list[Target],
    order: FleetOrder,
    policy: Policy,
    report: Report,
    *,
    skip: frozenset[Target] = frozenset(),
    executor: Executor | None = None,
) -> list[TargetOutcome]:
    """Run ``order`` on every target not in ``skip`` (those are up to date, left
    untouched); return one outcome per target, in the targets' order."""
    executor = executor or LocalExecutor(project)
    outcomes: dict[Target, TargetOutcome] = {}

    def record(outcome: TargetOutcome) -> None:
        outcomes[outcome.target] = outcome
        report(outcome)

    for target in targets:
        if target in skip:
            record(TargetOutcome(target, UP_TO_DATE))
    todo = [t for t in targets if t not in skip]
    canaries, rest = todo[: 1 + policy.canary], todo[1 + policy.canary :]
    try:
        executor.warm_up(min(policy.jobs, len(rest)))
        _run_all(executor, todo, canaries, rest, order, policy, outcomes, record)
    finally:
        executor.close()
    return [outcomes.get(t) or TargetOutcome(t, NOT_STARTED) for t in targets]


def _run_all(
    executor: Executor,
    todo: list[Target],
    canaries: list[Target],
    rest: list[Target],
    order: FleetOrder,
    policy: Policy,
    outcomes: dict[Target, TargetOutcome],
    record: Report,
) -> None:
    """The canaries one by one, then the rest, then the restores ``rollback`` asks for."""
    failed = False
    for target in canaries:
        record(executor.run_one(target, order))
        if outcomes[target].broken:
            failed = True
            if not order.dry_run:  # a dry run plans every target, so every refusal is seen
                break
    if rest and (not failed or order.dry_run):
        failed = executor.run_many(rest, order, policy, record)
    if failed and policy.on_failure == "rollback":
        migrated = [t for t in todo if t in outcomes and outcomes[t].status == SUCCEEDED]
        for target in reversed(migrated):
            forward = outcomes[target]
            undone = executor.run_one(target, order.restoring())
            record(replace(undone, applied=forward.applied, duration=forward.duration + undone.duration))


def _run_rest(
    project: Project,
    rest: list[Target],
    order: FleetOrder,
    policy: Policy,
    record: Report,
    pool: ProcessPoolExecutor | None,
) -> bool:
    """Run the targets after the canaries (in ``pool`` when there is one); return
    whether one of them failed."""
    failed = False
    if pool is None or policy.jobs <= 1 or len(rest) == 1:
        for target in rest:
            outcome = run_target(project, target, order)
            record(outcome)
            failed = failed or outcome.broken
            if failed and policy.on_failure != "continue":
                break
        return failed
    pending = iter(rest)
    running: dict[Future[TargetOutcome], Target] = {}

    def submit() -> None:
        target = next(pending, None)
        if target is None:
            return
        try:
            future = pool.submit(_work, target, order)
        except BrokenProcessPool as exc:  # a worker died, maybe while starting: this target fails as lost
            future = Future()
            future.set_exception(exc)
        running[future] = target

    for _ in range(policy.jobs):
        submit()
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            target = running.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process died (killed, out of memory)
                outcome = TargetOutcome(target, FAILED, error=f"worker lost: {exc!r}", error_type="internal")
            record(outcome)
            failed = failed or outcome.broken
            if not failed or policy.on_failure == "continue":
                submit()
    return failed


_WORKER_PROJECT: Project | None = None


def _start_worker(settings: str | None, pythonpath: str | None, releases_dir: str | None) -> None:
    """Set up the project and load its graph once per worker process, whose lock
    connections are kept from one target to the next (the process ends with the run)."""
    from migtool.django_adapter.lock import keep_lock_connections

    global _WORKER_PROJECT
    keep_lock_connections()
    _WORKER_PROJECT = Project(settings=settings, pythonpath=pythonpath, releases_dir=releases_dir)
    _WORKER_PROJECT.setup()
    _ = _WORKER_PROJECT.graph


def _ready() -> None:
    """Nothing: a task that makes the pool start a worker process."""


def _work(target: Target, order: FleetOrder) -> TargetOutcome:
    assert _WORKER_PROJECT is not None
    return run_target(_WORKER_PROJECT, target, order)
