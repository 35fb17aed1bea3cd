"""Use cases that unapply: rollback to a release, rollback --last, its SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migtool.api.project import Project
from migtool.api.running import run_journaled
from migtool.core.drift import drift
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.planner import Refusal, RollbackPlan, plan_rollback
from migtool.core.safety import StepCheck
from migtool.core.snapshot import (
    AppSnapshot,
    ReleaseSnapshot,
    check_release_name,
)
from migtool.core.stored import missing_refusal, recorded_nodes, stored_drift
from migtool.errors import (
    PlanRefusedError,
)

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Batch, Observer
    from migtool.django_adapter.plans import Prepared
    from migtool.django_adapter.rehearsal import Rehearsal


@dataclass(frozen=True)
class RollbackPreview:
    """A rollback plan with its pre-flight checks, for one database.

    ``recorded`` is the state the plan was made for: execution refuses to start
    if the database no longer has exactly these rows.  ``from_stored`` are the
    steps loaded from stored sources (their files are not on disk);
    ``stored_refusals`` say why applied migrations the plan would unapply
    cannot be loaded.
    """

    database: str
    plan: RollbackPlan
    checks: tuple[StepCheck, ...]
    one_transaction: bool
    recorded: frozenset[MigrationKey]
    drift: tuple[str, ...] = ()
    prepared: Prepared | None = field(default=None, compare=False, repr=False)
    from_stored: frozenset[MigrationKey] = frozenset()
    stored_refusals: tuple[Refusal, ...] = ()
    upstream_drift: tuple[str, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the user should know but that does not block: the plan's warnings, and steps
        whose installed distribution changed them since a release froze them."""
        return self.plan.warnings + self.upstream_drift

    @property
    def blockers(self) -> tuple[str, ...]:
        """Every reason not to run, all at once: plan refusals, stored sources that
        cannot be used, step blockers, drift."""
        return self.plan_blockers + self.step_blockers

    @property
    def plan_blockers(self) -> tuple[str, ...]:
        """Reasons not to run the plan at all, which no rehearsal can disprove:
        refusals of the plan and of stored sources, drift."""
        return tuple(r.message for r in (*self.plan.refusals, *self.stored_refusals)) + self.drift

    @property
    def step_blockers(self) -> tuple[str, ...]:
        """Predictions that a step's revert fails: a passed rehearsal disproves them."""
        return tuple(f"{c.key}: {b}" for c in self.checks for b in c.blockers)

    def blockers_after(self, rehearsal: Rehearsal | None) -> tuple[str, ...]:
        """The blockers once a rehearsal (if any) answered: the rehearsal is exact, so a
        passed one disproves the step blockers, and a failed one is the blocker."""
        if rehearsal is None:
            return self.blockers
        if rehearsal.passed:
            return self.plan_blockers
        return (*self.plan_blockers, f"{rehearsal.failed or 'the plan'}: the rehearsal failed: {rehearsal.error}")

    def batch(self, fast_path: bool = True) -> Batch:
        """The plan as the executor runs it; ``fast_path=False`` (or ``MIGTOOL_NO_FAST_PATH=1``)
        renders each reverted state as Django does."""
        from migtool.django_adapter.executor import Batch

        return Batch(
            steps=self.plan.steps,
            backwards=True,
            in_one_transaction=self.one_transaction,
            use_originals=self.plan.use_originals,
            stale_rows=self.plan.stale_rows,
            fast_path=fast_path,  # unapply_steps also honours MIGTOOL_NO_FAST_PATH
        )

    @property
    def uncertain(self) -> tuple[str, ...]:
        """Checks an earlier step of the plan makes unknowable: they do not block."""
        return tuple(f"{c.key}: {u}" for c in self.checks for u in c.uncertain)

    @property
    def data_loss(self) -> tuple[str, ...]:
        return tuple(f"{c.key}: {d}" for c in self.checks for d in c.data_loss)


def preview_rollback(project: Project, release: str, database: str, *, allow_drift: bool = False) -> RollbackPreview:
    """Plan the rollback of ``database`` to ``release`` and run every pre-flight check.

    Read-only.  Raises for bad input (unknown release, unreachable database);
    reasons the plan must not run are in ``RollbackPreview.blockers``.
    """
    from migtool.django_adapter.connection import get_connection

    check_release_name(release)
    project.setup()
    connection = get_connection(database)
    project.load_stored_sources(connection)
    snapshot = project.load_release(release)
    return _preview_backwards(project, connection, database, snapshot, allow_drift=allow_drift)


def refuse_if_blocked(preview: RollbackPreview, rehearsal: Rehearsal | None = None) -> None:
    """Raise ``PlanRefusedError`` listing every blocker, when the preview has any
    (once ``rehearsal``, if given, answered: see ``blockers_after``)."""
    blockers = preview.blockers_after(rehearsal)
    if blockers:
        raise PlanRefusedError(
            f"Rollback to {preview.plan.release} refused, nothing was touched: " + " | ".join(blockers),
            hint="Each blocker names the migration and the cause; fix the data or the migration, then retry.",
            blockers=list(blockers),
        )


def _preview_backwards(
    project: Project,
    connection: Any,
    database: str,
    snapshot: ReleaseSnapshot,
    *,
    allow_drift: bool = False,
    keep: frozenset[MigrationKey] = frozenset(),
) -> RollbackPreview:
    """Plan and check going back to ``snapshot``; ``keep`` are recorded rows that stay
    applied although the snapshot does not name them (``--last``: what was there before)."""
    from migtool.django_adapter.loader import load_recorded
    from migtool.django_adapter.plans import prepare_backwards
    from migtool.django_adapter.preflight import check_steps
    from migtool.django_adapter.stored_loader import render_refusals

    recorded = frozenset(load_recorded(connection))
    plan = plan_rollback(project.graph, recorded, snapshot)
    from_stored = frozenset(plan.steps) & (project.stored.injected if project.stored else frozenset())
    refusals = _stored_refusals(project, snapshot.keys() | keep)
    checks: list[StepCheck] = []
    prepared = None
    if plan.steps:
        prepared = prepare_backwards(connection, plan.steps, plan.use_originals)
        unrenderable = render_refusals(prepared.executor.loader, from_stored) if from_stored else []
        refusals += tuple(unrenderable)
        # A state that does not render cannot be checked step by step either; its refusal says why.
        checks = [] if unrenderable else check_steps(connection, prepared)
    one_transaction = bool(connection.features.can_rollback_ddl) and all(c.atomic for c in checks)
    drifted, upstream = _drift(project, plan.steps)
    return RollbackPreview(
        database,
        plan,
        tuple(checks),
        one_transaction,
        recorded,
        () if allow_drift else drifted,
        prepared,
        from_stored,
        refusals,
        upstream,
    )


def _stored_refusals(project: Project, stays: frozenset[MigrationKey]) -> tuple[Refusal, ...]:
    """Applied migrations the rollback would have to unapply but cannot load: neither
    on disk nor stored, or stored but unusable with this code.  Those that stay
    applied need no source."""
    if project.stored is None:
        return ()
    refusals = [r for r in project.stored.refusals if r.keys[0] not in stays]
    missing = missing_refusal(project.stored.missing - stays)
    return (*refusals, *([missing] if missing else []))


def _drift(project: Project, steps: tuple[MigrationKey, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Steps whose file changed since a release froze it, as blockers and as warnings.

    Reverting such a step runs code that never ran forwards on databases that applied
    the frozen version.  For the project's own migrations that is a blocker (unless
    --allow-drift), whatever MIGTOOL_DRIFT says.  An installed distribution's edit
    of its own migration is a warning: the project cannot restore that file.  Release
    files that cannot be read are skipped here (``releases`` and ``doctor`` report them).
    """
    if not steps:
        return (), ()
    releases, _ = project.readable_releases({step.app_label for step in steps})
    first: dict[tuple[str, str], str] = {}  # one message per migration, from the first release that froze it
    findings = drift(project.graph, releases, frozenset(steps), project.ownership.for_rollback())
    if project.stored is not None:
        findings += stored_drift(project.graph, project.stored.variants, steps)
    for finding in findings:
        if finding.code in ("drift-edited", "upstream-edited"):
            first.setdefault((finding.code, finding.subject), finding.message)
    blockers = tuple(
        f"{message} Reverting it runs code that never ran forwards (pass --allow-drift to accept the risk)."
        for (code, _), message in first.items()
        if code == "drift-edited"
    )
    warnings = tuple(
        f"{message} Reverting it runs the installed version's code."
        for (code, _), message in first.items()
        if code == "upstream-edited"
    )
    return blockers, warnings


def rollback_sql(project: Project, preview: RollbackPreview, *, fast_path: bool = True) -> list[str]:
    """Return the SQL the rollback would run, in plan order, running none of it.

    Uses up the preview's prepared states (collecting SQL walks them as a run
    would), so the preview cannot be executed afterwards.  ``fast_path=False``
    (or ``MIGTOOL_NO_FAST_PATH=1``) renders as Django does.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.plans import collect_sql

    if preview.prepared is None:
        return []
    return collect_sql(get_connection(preview.database), preview.prepared, fast_path)


def execute_rollback(
    project: Project,
    preview: RollbackPreview,
    observer: Observer,
    warn: Callable[[str], None],
    *,
    command: str = "rollback",
    fleet_run: str | None = None,
    rehearsal: Rehearsal | None = None,
    fast_path: bool = True,
) -> tuple[MigrationKey, ...]:
    """Run a previewed rollback that has no blockers; return the migrations unapplied.

    A ``rehearsal`` of this preview that passed disproves its step blockers:
    the plan ran.  Call it inside the ``exclusive`` block the preview was made
    in.  Raises ``ExecutionError`` (restored) or ``RestoreFailedError`` (not
    restored); the sources of steps re-applied after a failure are stored, and
    ``warn`` hears when they cannot be.  ``fast_path=False`` (or
    ``MIGTOOL_NO_FAST_PATH=1``) renders each state as Django does.
    """
    assert not preview.blockers_after(rehearsal), "execute_rollback needs a plan without blockers"
    return run_rollback(preview, observer, warn, command=command, fleet_run=fleet_run, fast_path=fast_path)


def run_rollback(
    preview: RollbackPreview,
    observer: Observer,
    warn: Callable[[str], None],
    *,
    command: str,
    fleet_run: str | None = None,
    fast_path: bool = True,
) -> tuple[MigrationKey, ...]:
    """Run a previewed rollback whatever its pre-flight predicted.

    Only ``verify`` calls it directly: on its scratch database it runs the
    reverts the pre-flight expects to fail on data, to find out whether they do.
    Refusals of the plan itself and irreversible steps are never run.
    """
    from migtool.django_adapter.connection import get_connection

    connection = get_connection(preview.database)
    run_journaled(
        connection,
        preview.batch(fast_path),
        observer,
        command=command,
        release=preview.plan.release,
        warn=warn,
        prepared=preview.prepared,
        fleet_run=fleet_run,
    )
    return preview.plan.steps


def preview_rollback_last(project: Project, database: str, *, allow_drift: bool = False) -> RollbackPreview:
    """Plan undoing exactly what the most recent successful migrate-safe run applied.

    Refuses when that would not be safe: a later run changed the database, a
    migration was applied outside migtool after it, or something it applied
    is no longer applied.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import REFUSED, RESTORED, SUCCEEDED, Journal
    from migtool.django_adapter.loader import load_recorded, recorded_after

    project.setup()
    connection = get_connection(database)
    project.load_stored_sources(connection)
    journal = Journal(connection)
    runs = journal.runs()
    last = next((r for r in runs if r.command == "migrate-safe" and r.status == SUCCEEDED), None)
    if last is None:
        raise PlanRefusedError(
            f"The journal of {database!r} has no successful migrate-safe run to undo.",
            hint="'migtool history' lists the runs; roll back to a release with 'migtool rollback RELEASE'.",
        )
    later = [r for r in runs if r.id > last.id and r.status not in (RESTORED, REFUSED)]  # those changed nothing
    if later:
        raise PlanRefusedError(
            f"rollback --last would undo run {last.id}, but run {later[-1].id} ({later[-1].command}, "
            f"{later[-1].status}) changed the database after it.",
            hint="Roll back to a release instead: 'migtool rollback RELEASE'.",
        )
    applied_by_run = [s.key for s in (journal.run(last.id) or last).steps if s.outcome == "done"]
    assert last.finished_at is not None
    manual = sorted(recorded_after(connection, last.finished_at) - set(applied_by_run))
    recorded = frozenset(load_recorded(connection))
    gone = [k for k in applied_by_run if not project.graph.atoms([k]) <= recorded]
    if manual or gone:
        why = (
            f"applied after it outside migtool: {', '.join(map(str, manual))}"
            if manual
            else (f"no longer applied: {', '.join(map(str, gone))}")
        )
        raise PlanRefusedError(
            f"rollback --last would undo run {last.id}, but migrations were {why}.",
            hint="Roll back to a release instead: 'migtool rollback RELEASE'.",
        )
    graph = project.graph
    keep = recorded - graph.stands_for(applied_by_run)
    # A squash row Django recorded because the run completed the squash was not there before it.
    keep -= {s for s in graph.replaces if s in keep and not graph.atoms([s]) <= keep}
    before = _state_snapshot(graph, keep, f"before-run-{last.id}")
    preview = _preview_backwards(project, connection, database, before, allow_drift=allow_drift, keep=keep)
    if set(preview.plan.steps) != set(applied_by_run):
        raise PlanRefusedError(
            f"Undoing run {last.id} would unapply {len(preview.plan.steps)} migration(s), not the "
            f"{len(applied_by_run)} it applied; the graph or the database changed since.",
            hint="Roll back to a release instead: 'migtool rollback RELEASE'.",
        )
    return preview


def _state_snapshot(graph: ProjectGraph, recorded: frozenset[MigrationKey], name: str) -> ReleaseSnapshot:
    """Describe the state a set of recorded rows stands for as an (unsaved) release."""
    members = recorded_nodes(graph, recorded)
    apps = {
        app: AppSnapshot(leaves=(), migrations=tuple(sorted(k.name for k in members if k.app_label == app)))
        for app in sorted({k.app_label for k in members})
    }
    return ReleaseSnapshot(release=name, apps=apps)
