"""The use cases, as plain functions: the CLI is one client, tests and scripts another.

Each function takes a ``Project`` (the user's Django project, set up lazily),
does its work through the adapter and the pure core, and returns values for a
renderer.  Nothing here prints.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migtool.core.doctor import Finding, RunFact, diagnose, drift
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.planner import RollbackPlan, plan_forward, plan_rollback, plan_to_release
from migtool.core.safety import StepCheck
from migtool.core.snapshot import (
    AppSnapshot,
    ReleaseDiff,
    ReleaseSnapshot,
    check_release_name,
    diff,
    freeze,
    resolve_legacy,
)
from migtool.core.status import DatabaseStatus, database_status
from migtool.django_adapter import bootstrap
from migtool.errors import (
    ExecutionError,
    GraphConflictError,
    InputError,
    PlanRefusedError,
    ReleaseExistsError,
    RestoreFailedError,
)
from migtool.store import ReleaseStore

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Batch, Observer, Prepared, StepEvent
    from migtool.django_adapter.journal import RunRecord

NOW = "(disk)"


class Project:
    """The user's Django project: set up on first use, never at import time.

    ``releases_dir`` wins over ``MIGTOOL_RELEASES_DIR``, which wins over
    ``settings.MIGTOOL_RELEASES_DIR``; the default is ``releases/`` in the
    current directory.
    """

    def __init__(
        self, *, settings: str | None = None, pythonpath: str | None = None, releases_dir: str | None = None
    ) -> None:
        self.settings = settings
        self.pythonpath = pythonpath
        self.releases_dir = releases_dir
        self._ready = False

    def setup(self) -> None:
        if not self._ready:
            bootstrap.setup(self.settings, self.pythonpath)
            self._ready = True

    @cached_property
    def store(self) -> ReleaseStore:
        directory = self.releases_dir or os.environ.get("MIGTOOL_RELEASES_DIR")
        if not directory:
            bootstrap.add_to_path(self.pythonpath)
            if bootstrap.settings_module(self.settings):
                directory = bootstrap.read_setting("MIGTOOL_RELEASES_DIR")  # type: ignore[assignment]
        return ReleaseStore(Path(directory or "releases"))

    @cached_property
    def graph(self) -> ProjectGraph:
        from migtool.django_adapter.loader import load_graph

        self.setup()
        graph = load_graph()
        # Settings, models, migration modules and this graph live until the command
        # exits: frozen, they are not scanned again by every later garbage collection
        # (parsing release files and rendering states set off many).
        gc.freeze()
        return graph

    @property
    def django_version(self) -> str:
        import django

        return django.get_version()

    def load_release(self, release: str, only_apps: Collection[str] | None = None) -> ReleaseSnapshot:
        """Return a release's snapshot, completing a legacy file against the code on disk."""
        snapshot = self.store.load(release, only_apps)
        return resolve_legacy(snapshot, self.graph) if snapshot.legacy else snapshot

    def disk_snapshot(self, name: str = NOW) -> ReleaseSnapshot:
        """Return what a release frozen now would contain."""
        return freeze(self.graph, name, self.django_version)


@dataclass(frozen=True)
class FreezeResult:
    snapshot: ReleaseSnapshot
    path: Path
    replaced: ReleaseDiff | None


def freeze_release(project: Project, release: str, *, force: bool = False) -> FreezeResult:
    """Write ``releases/<release>.json`` from the migrations on disk; no database is used.

    Raises ``GraphConflictError`` for conflicting leaves and ``ReleaseExistsError``
    when the file exists and ``force`` is false (saying what would change).
    """
    check_release_name(release)
    snapshot = project.disk_snapshot(release)
    changes = None
    if project.store.exists(release):
        try:
            changes = diff(project.load_release(release), snapshot)
        except InputError:
            if not force:
                raise  # its message names the broken file and says --force re-creates it
        else:
            if not force:
                what = _summary(changes) if changes.has_changes else "nothing would change"
                raise ReleaseExistsError(
                    f"Release {release!r} already exists ({project.store.path(release)}); {what}.",
                    hint="Pass --force to overwrite it, or freeze under a new release name.",
                    release=release,
                )
    return FreezeResult(snapshot, project.store.save(snapshot), changes)


def _summary(changes: ReleaseDiff) -> str:
    counts = [
        (sum(len(a.added) for a in changes.apps), "added"),
        (sum(len(a.removed) for a in changes.apps), "removed"),
        (sum(len(a.edited) for a in changes.apps), "edited"),
    ]
    return "freezing now would change it: " + ", ".join(f"{n} migration(s) {what}" for n, what in counts if n)


def diff_releases(project: Project, old: str, new: str | None = None) -> ReleaseDiff:
    """Compare release ``old`` with release ``new``, or with the migrations on disk now.

    Two current-format release files are compared without setting up Django;
    the code is loaded only for a legacy file or for a comparison with disk.
    """
    check_release_name(old)
    if new is not None:
        check_release_name(new)
    before = project.store.load(old)
    after = project.store.load(new) if new is not None else None
    if before.legacy:
        before = resolve_legacy(before, project.graph)
    if after is None:
        after = project.disk_snapshot()
    elif after.legacy:
        after = resolve_legacy(after, project.graph)
    return diff(before, after)


@dataclass(frozen=True)
class ReleaseSummary:
    name: str
    apps: int
    migrations: int | None
    legacy: bool


def list_releases(project: Project) -> list[ReleaseSummary]:
    """Return every known release, newest first; reads files only, no Django setup."""
    summaries = []
    for name in project.store.names():
        snapshot = project.store.load(name)
        count = None if snapshot.legacy else len(snapshot.keys())
        summaries.append(ReleaseSummary(name, len(snapshot.apps), count, snapshot.legacy))
    return summaries


def database_state(project: Project, database: str) -> DatabaseStatus:
    """Return per app what ``database`` has applied, and the releases it matches exactly."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.loader import load_recorded

    project.setup()
    connection = get_connection(database)
    recorded = load_recorded(connection)
    releases = [project.load_release(name) for name in project.store.names()]
    return database_status(project.graph, recorded, releases, database)


@dataclass(frozen=True)
class RollbackPreview:
    """A rollback plan with its pre-flight checks, for one database.

    ``recorded`` is the state the plan was made for: execution refuses to start
    if the database no longer has exactly these rows.
    """

    database: str
    plan: RollbackPlan
    checks: tuple[StepCheck, ...]
    one_transaction: bool
    recorded: frozenset[MigrationKey]
    drift: tuple[str, ...] = ()
    prepared: Prepared | None = field(default=None, compare=False, repr=False)

    @property
    def blockers(self) -> tuple[str, ...]:
        """Every reason not to run, all at once: plan refusals, step blockers, drift."""
        return (
            tuple(r.message for r in self.plan.refusals)
            + tuple(f"{c.key}: {b}" for c in self.checks for b in c.blockers)
            + self.drift
        )

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
    snapshot = project.load_release(release)
    return _preview_backwards(project, get_connection(database), database, snapshot, allow_drift=allow_drift)


def _preview_backwards(
    project: Project, connection: Any, database: str, snapshot: ReleaseSnapshot, *, allow_drift: bool = False
) -> RollbackPreview:
    from migtool.django_adapter.executor import prepare_backwards
    from migtool.django_adapter.loader import load_recorded
    from migtool.django_adapter.preflight import check_steps

    recorded = frozenset(load_recorded(connection))
    plan = plan_rollback(project.graph, recorded, snapshot)
    checks: list[StepCheck] = []
    prepared = None
    if plan.steps:
        prepared = prepare_backwards(connection, plan.steps, plan.use_originals)
        checks = check_steps(connection, prepared)
    one_transaction = bool(connection.features.can_rollback_ddl) and all(c.atomic for c in checks)
    drifted = () if allow_drift else _drift(project, plan.steps)
    return RollbackPreview(database, plan, tuple(checks), one_transaction, recorded, drifted, prepared)


def _drift(project: Project, steps: tuple[MigrationKey, ...]) -> tuple[str, ...]:
    """Steps whose file changed since a release froze it: reverting them would run code
    that never ran forwards on databases that applied the frozen version.  Release
    files that cannot be read are skipped here (``releases`` and ``doctor`` report them)."""
    releases = []
    apps = {step.app_label for step in steps}
    for name in project.store.names():
        try:
            releases.append(project.load_release(name, apps))
        except InputError:
            continue
    first: dict[str, str] = {}  # one blocker per migration, from the first release that froze it
    for finding in drift(project.graph, releases, frozenset(steps)):
        if finding.code == "drift-edited":
            first.setdefault(finding.subject, finding.message)
    return tuple(
        f"{message} Reverting it runs code that never ran forwards (pass --allow-drift to accept the risk)."
        for message in first.values()
    )


def rollback_sql(project: Project, preview: RollbackPreview) -> list[str]:
    """Return the SQL the rollback would run, in plan order, running none of it.

    Uses up the preview's prepared states (collecting SQL walks them as a run
    would), so the preview cannot be executed afterwards.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.executor import collect_sql

    if preview.prepared is None:
        return []
    return collect_sql(get_connection(preview.database), preview.prepared.migrations, preview.prepared.states)


def execute_rollback(
    project: Project, preview: RollbackPreview, observer: Observer, *, command: str = "rollback"
) -> tuple[MigrationKey, ...]:
    """Run a previewed rollback that has no blockers; return the migrations unapplied.

    Call it inside the ``exclusive`` block the preview was made in.  Raises
    ``ExecutionError`` (restored) or ``RestoreFailedError`` (not restored).
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.executor import Batch

    assert not preview.blockers, "execute_rollback needs a plan without blockers"
    connection = get_connection(preview.database)
    batch = Batch(
        steps=preview.plan.steps,
        backwards=True,
        in_one_transaction=preview.one_transaction,
        use_originals=preview.plan.use_originals,
        stale_rows=preview.plan.stale_rows,
    )

    run_journaled(connection, batch, observer, command=command, release=preview.plan.release, prepared=preview.prepared)
    return preview.plan.steps


@contextmanager
def exclusive(project: Project, database: str, lock_timeout: float, *, create: bool = False) -> Iterator[None]:
    """Hold the database's migtool lock for a whole command: planning, checks,
    confirmation and execution, so nothing is planned against a database that
    another run is changing.  Raises ``LockHeldError`` after ``lock_timeout``."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import RUNNING, Journal
    from migtool.django_adapter.lock import migration_lock

    project.setup()
    connection = get_connection(database, create=create)

    def holder() -> str:
        running = [r for r in Journal(connection).runs(5, lock_free=False) if r.status == RUNNING]
        return running[0].describe() if running else "a run that has not journaled yet"

    with migration_lock(connection, lock_timeout, holder):
        yield


def run_journaled(
    connection: Any,
    batch: Batch,
    observer: Observer,
    *,
    command: str,
    release: str | None,
    prepared: Prepared | None = None,
) -> int:
    """Run ``batch`` recorded in the journal; return the run id.  Call it inside ``exclusive``."""
    from django.db import connections

    from migtool.django_adapter.executor import run_batch
    from migtool.django_adapter.journal import FAILED, RESTORED, SUCCEEDED, Journal, StepLog

    journal = Journal(connection)
    run_id = journal.begin(command, release, "backwards" if batch.backwards else "forwards")
    log = StepLog(journal, run_id, backwards=batch.backwards, live=not batch.in_one_transaction)

    def observe(event: StepEvent) -> None:
        observer(event)
        log(event)

    try:
        run_batch(connection, batch, observe, prepared)
    except ExecutionError as exc:
        journal = Journal(connections[connection.alias])  # the executor may have replaced a broken wrapper
        log.journal = journal
        log.close(rolled_back=batch.in_one_transaction)
        status = FAILED if isinstance(exc, RestoreFailedError) else RESTORED
        journal.finish(run_id, status, exc.message)
        exc.details["run_id"] = run_id
        raise
    log.close(rolled_back=False)
    journal.finish(run_id, SUCCEEDED)
    return run_id


@dataclass(frozen=True)
class MigratePreview:
    """A forward batch with its checks.  ``undo_blockers`` say which steps could
    not be undone if a later step failed; they matter when the batch cannot be
    one transaction."""

    database: str
    release: str | None
    steps: tuple[MigrationKey, ...]
    checks: tuple[StepCheck, ...]
    one_transaction: bool
    recorded: frozenset[MigrationKey]
    use_originals: bool = False

    @property
    def undo_blockers(self) -> tuple[str, ...]:
        """Blockers of every step but the last: only steps that completed are undone."""
        return tuple(f"{c.key}: {b}" for c in self.checks[:-1] for b in c.blockers)

    @property
    def unsafe(self) -> bool:
        """A failure could leave the batch half-applied for good."""
        return bool(self.undo_blockers) and not self.one_transaction


def preview_migrate(
    project: Project,
    database: str,
    *,
    app_label: str | None = None,
    migration: str | None = None,
    release: str | None = None,
    create: bool = False,
) -> MigratePreview:
    """Plan a forward batch like ``manage.py migrate [APP [MIGRATION]]``, or to exactly
    ``release``, and check whether each step could be undone.

    Read-only, except that ``create`` lets a missing SQLite file be created.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.executor import build_executor, check_history, forward_order, plan_migrations
    from migtool.django_adapter.loader import load_recorded
    from migtool.django_adapter.preflight import undo_check

    if release is not None:
        check_release_name(release)
    project.setup()
    snapshot = project.load_release(release) if release is not None else None
    connection = get_connection(database, create=create)
    graph = project.graph
    recorded = frozenset(load_recorded(connection))
    effective = graph.effective(recorded)
    conflicts = {app: leaves for app, leaves in effective.leaves().items() if len(leaves) > 1}
    if conflicts:
        listing = "; ".join(f"{app}: {', '.join(k.name for k in keys)}" for app, keys in conflicts.items())
        raise GraphConflictError(
            f"Conflicting migrations detected ({listing}).",
            hint="Run 'python manage.py makemigrations --merge' and commit the merge migration.",
        )
    check_history(build_executor(connection, False))
    if snapshot is not None:
        _refuse_outside(graph, recorded, snapshot)
        steps, use_originals = plan_to_release(graph, recorded, snapshot)
    else:
        steps, use_originals = plan_forward(graph, recorded, _targets(graph, recorded, app_label, migration)), False
    executor = build_executor(connection, use_originals)
    steps = forward_order(executor, steps) if steps else ()
    # Whether a step could be undone needs no rendered states: only its operations.
    checks = [undo_check(m) for m in plan_migrations(executor, steps, applied=False)]
    one_transaction = bool(connection.features.can_rollback_ddl) and all(c.atomic for c in checks)
    return MigratePreview(database, release, steps, tuple(checks), one_transaction, recorded, use_originals)


def _refuse_outside(graph: ProjectGraph, recorded: frozenset[MigrationKey], release: ReleaseSnapshot) -> None:
    """Refuse a migrate to ``release`` when reaching it would need unapplying."""
    outside = plan_rollback(graph, recorded, release).steps
    if outside:
        raise PlanRefusedError(
            f"The database has {len(outside)} migration(s) outside release {release.release} "
            f"({', '.join(map(str, outside[:5]))}); migrate-safe only applies migrations.",
            hint=f"Run 'migtool rollback {release.release}' first.",
        )


def _targets(
    graph: ProjectGraph, recorded: frozenset[MigrationKey], app_label: str | None, migration: str | None
) -> list[MigrationKey] | None:
    """Resolve ``APP_LABEL [MIGRATION_NAME]`` as migrate does, refusing anything backwards."""
    effective = graph.effective(recorded)
    if app_label is None:
        return None
    if app_label not in graph.apps:
        raise InputError(f"App {app_label!r} does not have migrations.", hint="Check the app label ('migtool status').")
    if migration is None:
        return list(effective.leaves()[app_label])
    if migration == "zero":
        raise PlanRefusedError(
            "migrate-safe only migrates forwards.", hint="To unapply migrations, use 'migtool rollback RELEASE'."
        )
    names = [k for k in effective.parents if k.app_label == app_label]
    matches = [k for k in names if k.name == migration] or [k for k in names if k.name.startswith(migration)]
    if len(matches) != 1:
        problem = "More than one migration matches" if matches else "Cannot find a migration matching"
        raise InputError(f"{problem} {migration!r} in app {app_label!r}.", hint="Give more of the migration's name.")
    target = matches[0]
    applied = graph.applied(recorded)
    later = [k for k in effective.descendants([target]) - {target} if k.app_label == app_label and k in applied]
    if later:
        raise PlanRefusedError(
            f"{target} is applied and so is {sorted(later)[0]}: migrating to it would unapply migrations, "
            "and migrate-safe only migrates forwards.",
            hint="Use 'migtool rollback RELEASE' to go back.",
        )
    return [target]


def execute_migrate(project: Project, preview: MigratePreview, observer: Observer) -> int:
    """Apply a previewed forward batch all-or-nothing; return the journal's run id.

    Call it inside the ``exclusive`` block the preview was made in.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.executor import Batch

    connection = get_connection(preview.database)

    batch = Batch(
        steps=preview.steps,
        backwards=False,
        in_one_transaction=preview.one_transaction,
        use_originals=preview.use_originals,
        signals=True,
    )
    return run_journaled(
        connection,
        batch,
        observer,
        command="migrate-safe",
        release=preview.release,
    )


def run_history(project: Project, database: str, *, limit: int | None = None) -> list[RunRecord]:
    """Return journaled runs, newest first; read-only (an absent journal is empty)."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import Journal
    from migtool.django_adapter.lock import is_locked

    project.setup()
    connection = get_connection(database)
    return Journal(connection).runs(limit, lock_free=not is_locked(connection))


def run_details(project: Project, database: str, run_id: int) -> RunRecord:
    """Return one journaled run with its steps; read-only."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import Journal
    from migtool.django_adapter.lock import is_locked

    project.setup()
    connection = get_connection(database)
    record = Journal(connection).run(run_id, lock_free=not is_locked(connection))
    if record is None:
        raise InputError(f"No run {run_id} in the journal of {database!r}.", hint="'migtool history' lists the runs.")
    return record


def preview_rollback_last(project: Project, database: str, *, allow_drift: bool = False) -> RollbackPreview:
    """Plan undoing exactly what the most recent successful migrate-safe run applied.

    Refuses when that would not be safe: a later run changed the database, a
    migration was applied outside migtool after it, or something it applied
    is no longer applied.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import RESTORED, SUCCEEDED, Journal
    from migtool.django_adapter.loader import load_recorded, recorded_after

    project.setup()
    connection = get_connection(database)
    journal = Journal(connection)
    runs = journal.runs()
    last = next((r for r in runs if r.command == "migrate-safe" and r.status == SUCCEEDED), None)
    if last is None:
        raise PlanRefusedError(
            f"The journal of {database!r} has no successful migrate-safe run to undo.",
            hint="'migtool history' lists the runs; roll back to a release with 'migtool rollback RELEASE'.",
        )
    later = [r for r in runs if r.id > last.id and r.status != RESTORED]
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
    before = _state_snapshot(graph, recorded - graph.stands_for(applied_by_run), f"before-run-{last.id}")
    preview = _preview_backwards(project, connection, database, before, allow_drift=allow_drift)
    if set(preview.plan.steps) != set(applied_by_run):
        raise PlanRefusedError(
            f"Undoing run {last.id} would unapply {len(preview.plan.steps)} migration(s), not the "
            f"{len(applied_by_run)} it applied; the graph or the database changed since.",
            hint="Roll back to a release instead: 'migtool rollback RELEASE'.",
        )
    return preview


def _state_snapshot(graph: ProjectGraph, recorded: frozenset[MigrationKey], name: str) -> ReleaseSnapshot:
    """Describe the state a set of recorded rows stands for as an (unsaved) release."""
    members = {k for k in graph.nodes if k in recorded or (k in graph.replaces and graph.atoms([k]) <= recorded)}
    apps = {
        app: AppSnapshot(leaves=(), migrations=tuple(sorted(k.name for k in members if k.app_label == app)))
        for app in sorted({k.app_label for k in members})
    }
    return ReleaseSnapshot(release=name, apps=apps)


def diagnose_project(project: Project, database: str | None) -> list[Finding]:
    """Run every doctor check: on the code and the release files, and, with
    ``database``, on its recorded state and journal.  Read-only."""
    from migtool.django_adapter.loader import load_facts

    project.setup()
    releases = [project.load_release(name) for name in project.store.names()]
    recorded = None
    runs: list[RunFact] = []
    if database is not None:
        from migtool.django_adapter.connection import get_connection
        from migtool.django_adapter.loader import load_recorded

        connection = get_connection(database)
        recorded = load_recorded(connection)
        runs = [
            RunFact(r.id, r.command, r.status, r.started_at.isoformat(timespec="seconds"))
            for r in run_history(project, database)
        ]
    return diagnose(project.graph, releases, load_facts(), recorded, runs)
