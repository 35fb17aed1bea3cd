"""Fleet use cases: the work done on one target, target selection, and fleet status.

Why a module of its own: a fleet run is the per-database use cases (migrate-safe,
rollback, rollback --last) applied to many targets.  ``run_target`` is the unit
of work: a plain function of (project, target, order) returning an outcome,
so it can run in this process, a worker process or (later) another machine.
Each target's journal, where every run carries the fleet run's id, is the
source of truth that ``fleet_status`` and ``fleet resume`` read back.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from migtool.api.migrate import execute_migrate, preview_migrate, refuse_if_unsafe
from migtool.api.project import Project
from migtool.api.rollback import execute_rollback, preview_rollback, preview_rollback_last, refuse_if_blocked
from migtool.api.running import exclusive
from migtool.core.planner import fully_migrated_rows
from migtool.errors import ConfigurationError, InputError, MigtoolError, PlanRefusedError, RestoreFailedError
from migtool.fleet.outcomes import (
    FAILED,
    NOT_RESTORED,
    NOT_STARTED,
    REFUSED,
    RESTORED,
    RUNNING,
    SUCCEEDED,
    UP_TO_DATE,
    WOULD_RUN,
    TargetOutcome,
)
from migtool.fleet.targets import Target, fleet_from_value, read_fleet_file, unique

if TYPE_CHECKING:
    from migtool.django_adapter.journal import RunRecord

T = TypeVar("T")
MIGRATE, ROLLBACK, ROLLBACK_LAST = "migrate-safe", "rollback", "rollback --last"
RESTORE = "fleet restore"  # the journal's name for a compensation: undoing this fleet run's migrate-safe


@dataclass(frozen=True)
class FleetOrder:
    """What to do on each target of one fleet run; a plain value any worker can receive.

    ``command`` is ``migrate-safe``, ``rollback`` (to ``release``), ``rollback --last``,
    or ``restore``: undo what this fleet run's migrate-safe applied on the target.
    """

    command: str
    fleet_run: str
    release: str | None = None
    lock_timeout: float = 60.0
    require_reversible: bool = False
    allow_drift: bool = False
    dry_run: bool = False  # plan and check each target, change nothing, journal nothing

    def restoring(self) -> FleetOrder:
        return replace(self, command=RESTORE)


def new_fleet_run() -> str:
    """A fleet run id, unique without coordination and sortable by start time."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class SchemaSelection:
    """PostgreSQL schemas of one database as a fleet: ``--schemas GLOB``,
    ``--schemas-from-query SQL`` or ``--tenants`` (django-tenants)."""

    pattern: str | None = None
    query: str | None = None
    tenants: bool = False

    def targets(self, databases: tuple[str, ...]) -> list[Target]:
        """The schema targets, of the one ``--database`` alias (default ``default``)."""
        from migtool.django_adapter import schemas
        from migtool.django_adapter.connection import get_connection

        if sum((self.pattern is not None, self.query is not None, self.tenants)) > 1 or len(databases) > 1:
            raise InputError(
                "--schemas, --schemas-from-query and --tenants each name the schemas of one database.",
                hint="Give one of them, with at most one --database ALIAS.",
            )
        if self.tenants:
            if databases:
                raise InputError(
                    "--tenants takes django-tenants' own database (TENANT_DB_ALIAS), not --database.",
                    hint="Drop --database.",
                )
            alias, names = schemas.tenant_schemas()
        else:
            alias = databases[0] if databases else "default"
            connection = get_connection(alias)
            if self.pattern is not None:
                names = schemas.matching_schemas(connection, self.pattern)
            else:
                names = schemas.schemas_from_query(connection, self.query or "")
        if not names:
            raise InputError("No schema matches: the fleet is empty.", hint="Check the pattern or the query.")
        return [Target(alias, name) for name in names]


def select_targets(
    project: Project,
    databases: tuple[str, ...],
    *,
    all_databases: bool = False,
    fleet: str | None = None,
    schemas: SchemaSelection | None = None,
) -> list[Target]:
    """Return the targets named on the command line, in order: ``--database`` (each an
    alias or ``ALIAS:SCHEMA``), ``--all-databases``, and ``--fleet FILE`` or
    ``--fleet settings`` (``settings.MIGTOOL_FLEET``), or the schemas of one database
    (``SchemaSelection``).  Unknown aliases are refused."""
    from django.db import connections

    project.setup()
    if schemas is not None:
        if all_databases or fleet is not None:
            raise InputError(
                "Schemas (--schemas, --schemas-from-query, --tenants) cannot be combined with "
                "--all-databases or --fleet.",
                hint="Name the schemas of one database, or list the targets in a fleet file.",
            )
        return unique(schemas.targets(databases))
    targets = [Target.parse(d) for d in databases]
    if all_databases:
        targets += [Target(alias) for alias in connections.settings]
    if fleet == "settings":
        from django.conf import settings

        targets += fleet_from_value(getattr(settings, "MIGTOOL_FLEET", None), "settings.MIGTOOL_FLEET")
    elif fleet is not None:
        targets += read_fleet_file(fleet)
    unknown = sorted({t.alias for t in targets} - set(connections.settings))
    if unknown:
        raise ConfigurationError(
            f"Unknown database alias(es) in the fleet: {', '.join(unknown)}.",
            hint=f"Use aliases from settings.DATABASES: {', '.join(sorted(connections.settings))}.",
        )
    return unique(targets)


def up_to_date_targets(project: Project, targets: list[Target]) -> set[Target]:
    """The targets a whole-project migrate-safe would not change (read-only, one query
    per database): the fleet skips them without a lock, a journal row or a write."""
    from migtool.django_adapter.targets import up_to_date

    project.setup()
    return up_to_date(targets, fully_migrated_rows(project.graph))


def run_target(project: Project, target: Target, order: FleetOrder) -> TargetOutcome:
    """Run ``order`` on one target under its own lock; never raises for a target's failure.

    The target is all-or-nothing as the single-database command is: it succeeds,
    or fails restored (``failed``), or fails not restored (``not restored``).
    """
    from migtool.django_adapter.targets import target_connection

    started = time.monotonic()
    create = order.command == MIGRATE and not order.dry_run
    warnings: list[str] = []
    plan: list[str] = []
    try:
        with (
            target_connection(target, create=create),
            exclusive(project, target.alias, order.lock_timeout, create=create, scope=target.schema),
        ):
            applied, run_id = _ACTIONS[order.command](project, target.alias, order, warnings.append, plan.extend)
    except RestoreFailedError as exc:
        return _failed(target, NOT_RESTORED, started, exc)
    except MigtoolError as exc:
        if "run_id" not in exc.details:  # refused before its run began: nothing was changed
            if not order.dry_run:
                _journal_refusal(target, order, exc)
            return _failed(target, NOT_RESTORED if order.command == RESTORE else REFUSED, started, exc)
        return _failed(target, NOT_RESTORED if order.command == RESTORE else FAILED, started, exc)
    except Exception as exc:  # a bug in migtool, or in a migration: this target fails, the fleet goes on
        outcome = TargetOutcome(target, FAILED, 0, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
        return replace(outcome, error_type="internal")
    duration = time.monotonic() - started
    done = WOULD_RUN if order.dry_run else SUCCEEDED
    status = RESTORED if order.command == RESTORE else done if applied else UP_TO_DATE
    return TargetOutcome(target, status, applied, duration, run_id=run_id, warnings=tuple(warnings), plan=tuple(plan))


def _journal_refusal(target: Target, order: FleetOrder, exc: MigtoolError) -> None:
    """Record a refused target in its own journal, so ``fleet status`` shows it refused,
    with the reason, instead of not started.  A target that cannot be reached (a
    missing schema, a server down) cannot record it; ``fleet status`` reads the
    reason again there."""
    from django.db import DatabaseError

    from migtool.django_adapter.journal import Journal
    from migtool.django_adapter.targets import target_connection

    direction = "forwards" if order.command == MIGRATE else "backwards"
    try:
        with target_connection(target) as connection:
            Journal(connection).refused(
                order.command, order.release, direction, order.fleet_run, f"{type(exc).__name__}: {exc.message}"
            )
    except (MigtoolError, DatabaseError):
        pass  # the outcome still carries the reason, in the report and the manifest


def _failed(target: Target, status: str, started: float, exc: MigtoolError) -> TargetOutcome:
    run_id = exc.details.get("run_id")
    return TargetOutcome(target, status, 0, time.monotonic() - started, exc.message, type(exc).__name__, run_id)


Plan = Callable[[list[str]], None]


def _migrate(
    project: Project, database: str, order: FleetOrder, warn: Callable[[str], None], plan: Plan
) -> tuple[int, int | None]:
    preview = preview_migrate(project, database, release=order.release, create=not order.dry_run)
    if not preview.steps:
        return 0, None
    if order.require_reversible:
        refuse_if_unsafe(preview)
    if order.dry_run:
        plan([str(key) for key in preview.steps])
        if preview.unsafe:
            warn("not one transaction, and these steps could not be undone: " + "; ".join(preview.undo_blockers))
        return len(preview.steps), None
    run_id = execute_migrate(project, preview, _quiet, warn, fleet_run=order.fleet_run)
    return len(preview.steps), run_id


def _rollback(
    project: Project, database: str, order: FleetOrder, warn: Callable[[str], None], plan: Plan
) -> tuple[int, int | None]:
    if order.command == ROLLBACK:
        assert order.release is not None
        preview = preview_rollback(project, order.release, database, allow_drift=order.allow_drift)
    else:
        if order.command == RESTORE:
            _refuse_unless_last_migrate_was(database, order.fleet_run)
        preview = preview_rollback_last(project, database, allow_drift=order.allow_drift)
    if not preview.plan.steps and not preview.blockers:
        return 0, None
    refuse_if_blocked(preview)
    if order.dry_run:
        plan([str(key) for key in preview.plan.steps])
        for warning in (*preview.warnings, *(f"data loss: {loss}" for loss in preview.data_loss)):
            warn(warning)
        return len(preview.plan.steps), None
    unapplied = execute_rollback(project, preview, _quiet, warn, command=order.command, fleet_run=order.fleet_run)
    return len(unapplied), None


def _refuse_unless_last_migrate_was(database: str, fleet_run: str) -> None:
    """A restore undoes the newest successful migrate-safe: refuse when that is no
    longer this fleet run's (another run migrated the target since it let go of it)."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import SUCCEEDED as RUN_SUCCEEDED
    from migtool.django_adapter.journal import Journal

    runs = Journal(get_connection(database)).runs()
    last = next((r for r in runs if r.command == MIGRATE and r.status == RUN_SUCCEEDED), None)
    if last is None or last.fleet_run != fleet_run:
        raise PlanRefusedError(
            f"Not restored: the newest migrate-safe run on {database!r} is not part of fleet run {fleet_run}.",
            hint="'migtool history' shows the runs; roll back to a release with 'migtool rollback RELEASE'.",
        )


def _quiet(event: Any) -> None:
    """Per-step progress is not shown in a fleet: the fleet view reports per target."""


_ACTIONS = {MIGRATE: _migrate, ROLLBACK: _rollback, ROLLBACK_LAST: _rollback, RESTORE: _rollback}


def fleet_status(project: Project, targets: list[Target], fleet_run: str | None) -> tuple[str, list[TargetOutcome]]:
    """Rebuild each target's outcome of ``fleet_run`` (the newest one when None) from the
    targets' own journals; read-only.  Returns the fleet run id and the outcomes."""
    records, unreadable = _fleet_records(project, targets, fleet_run)
    if fleet_run is None:
        newest = [r for runs in records.values() for r in runs if r.fleet_run]
        if not newest:
            raise InputError(
                "No fleet run is recorded on these targets.", hint="Start one: migtool migrate-safe --all-databases."
            )
        fleet_run = max(newest, key=lambda r: r.started_at).fleet_run
        records, unreadable = _fleet_records(project, targets, fleet_run)
    assert fleet_run is not None
    if not any(records.values()):
        raise InputError(
            f"No target's journal records fleet run {fleet_run}.",
            hint="Check the run id and the targets (--database, --all-databases, --fleet).",
        )
    first = min((r for runs in records.values() for r in runs), key=lambda r: r.started_at)
    fresh = up_to_date_targets(project, [t for t in targets if not records[t]]) if first.command == MIGRATE else set()
    return fleet_run, [
        _unreadable(t, unreadable[t]) if t in unreadable else outcome_from_runs(t, records[t], t in fresh)
        for t in targets
    ]


def _unreadable(target: Target, exc: ConfigurationError) -> TargetOutcome:
    """A target whose journal cannot be read now (a schema that does not exist, a server
    down): a run could not have changed it either, so it was refused for the same reason."""
    return TargetOutcome(target, REFUSED, error=exc.message, error_type=type(exc).__name__)


def fleet_command(project: Project, targets: list[Target], fleet_run: str) -> FleetOrder:
    """The order a fleet run was started with, read back from the first run it journaled."""
    records = [r for runs in _fleet_records(project, targets, fleet_run)[0].values() for r in runs]
    forward = [r for r in records if r.command != RESTORE]
    if not forward:
        raise InputError(
            f"No target's journal records fleet run {fleet_run}.",
            hint="Check the run id and the targets (--database, --all-databases, --fleet).",
        )
    first = min(forward, key=lambda r: r.started_at)
    return FleetOrder(
        command=first.command, fleet_run=fleet_run, release=first.release if first.command != MIGRATE else None
    )


def _fleet_records(
    project: Project, targets: list[Target], fleet_run: str | None
) -> tuple[dict[Target, list[RunRecord]], dict[Target, ConfigurationError]]:
    """Each target's runs of ``fleet_run`` (or its newest fleet runs), and the targets
    that cannot be read, with why."""
    from migtool.django_adapter.connection import sqlite_file_missing
    from migtool.django_adapter.journal import Journal
    from migtool.django_adapter.lock import is_locked
    from migtool.django_adapter.targets import target_connection

    project.setup()
    records: dict[Target, list[RunRecord]] = {}
    unreadable: dict[Target, ConfigurationError] = {}
    for target in targets:
        try:
            with target_connection(target) as connection:
                journal = Journal(connection)
                lock_free = not is_locked(connection, target.schema)
                if fleet_run is None:
                    records[target] = [r for r in journal.runs(5, lock_free=lock_free) if r.fleet_run]
                else:
                    records[target] = journal.fleet_runs(fleet_run, lock_free=lock_free)
        except ConfigurationError as exc:
            records[target] = []
            if not sqlite_file_missing(target.alias):  # a SQLite file never created: nothing was run there
                unreadable[target] = exc
    return records, unreadable


def outcome_from_runs(target: Target, runs: list[RunRecord], fresh: bool) -> TargetOutcome:
    """A target's outcome from its runs of one fleet run, oldest first: the last
    forward run decides, and a later restore of it makes it restored."""
    from migtool.django_adapter.journal import INTERRUPTED
    from migtool.django_adapter.journal import REFUSED as RUN_REFUSED
    from migtool.django_adapter.journal import RESTORED as RUN_RESTORED
    from migtool.django_adapter.journal import RUNNING as RUN_RUNNING
    from migtool.django_adapter.journal import SUCCEEDED as RUN_SUCCEEDED

    forward = [r for r in runs if r.command != RESTORE]
    if not forward:
        return TargetOutcome(target, UP_TO_DATE if fresh else NOT_STARTED)
    last = forward[-1]
    undo = [r for r in runs if r.id > last.id]
    applied = sum(1 for s in last.steps if s.outcome == "done")
    duration = ((last.finished_at or last.started_at) - last.started_at).total_seconds()
    if last.status == RUN_SUCCEEDED and not undo:
        return TargetOutcome(target, SUCCEEDED, applied, duration, run_id=last.id)
    if last.status == RUN_SUCCEEDED:
        status = RESTORED if undo[-1].status == RUN_SUCCEEDED else NOT_RESTORED
        return TargetOutcome(target, status, applied, duration, _reason(undo[-1])[1], run_id=last.id)
    if last.status == RUN_RUNNING:
        return TargetOutcome(target, RUNNING, 0, duration, run_id=last.id)
    if last.status == RUN_REFUSED:
        error_type, message = _reason(last)
        return TargetOutcome(target, REFUSED, 0, duration, message, error_type, run_id=last.id)
    error = last.error or ("interrupted: the process was killed" if last.status == INTERRUPTED else None)
    status = FAILED if last.status in (RUN_RESTORED, INTERRUPTED) else NOT_RESTORED
    return TargetOutcome(target, status, 0, duration, error, run_id=last.id)


def _reason(record: RunRecord) -> tuple[str | None, str | None]:
    """(error class, message) of a run; a refusal's error is journaled as ``Class: message``."""
    from migtool.django_adapter.journal import REFUSED as RUN_REFUSED

    if record.status != RUN_REFUSED or not record.error:
        return None, record.error
    error_type, _, message = record.error.partition(": ")
    return error_type, message


def read_each(
    project: Project, targets: list[Target], read: Callable[[Project, str], T]
) -> list[tuple[Target, T | MigtoolError]]:
    """Run a read-only use case (``database_state``, ``diagnose_project``…) on each target
    in turn, through its own connection; a target's error is returned, not raised."""
    from migtool.django_adapter.targets import target_connection

    results: list[tuple[Target, T | MigtoolError]] = []
    for target in targets:
        try:
            with target_connection(target):
                results.append((target, read(project, target.alias)))
        except MigtoolError as exc:
            results.append((target, exc))
    return results
