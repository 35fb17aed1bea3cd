"""The command line's side of fleets: which targets, the live view, the report, the exit code.

Why a module: ``migrate-safe``, ``rollback``, ``status``, ``doctor`` and the
``fleet`` group all read the same target options and end a fleet run the same
way (table or JSON, manifest, final line with counts, the worst exit code).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Group
from rich.live import Live
from rich.text import Text

from migtool import api, errors
from migtool.cli.context import AppContext
from migtool.fleet.outcomes import (
    BROKEN,
    NOT_RESTORED,
    RESTORED,
    TargetOutcome,
    counts,
    summary_line,
)
from migtool.fleet.runner import Executor, Policy, run_fleet
from migtool.fleet.targets import Target
from migtool.render.payloads import fleet_reads_to_dict, fleet_to_dict
from migtool.render.tables import fleet_rows_table, fleet_table

INTERNAL_ERROR = 70
T = TypeVar("T")


@dataclass(frozen=True)
class Selection:
    """The target options of one command line."""

    databases: tuple[str, ...] = ()
    all_databases: bool = False
    fleet: str | None = None
    schemas: api.SchemaSelection | None = None

    @property
    def is_fleet(self) -> bool:
        """More than one target, or a schema: single-database behaviour is kept otherwise."""
        return (
            self.all_databases
            or self.fleet is not None
            or self.schemas is not None
            or len(self.databases) > 1
            or ":" in "".join(self.databases)
        )

    @property
    def single(self) -> str:
        return self.databases[0] if self.databases else "default"

    def targets(self, project: api.Project, *, default_all: bool = False) -> list[Target]:
        """The targets, in order.  With nothing selected and ``default_all`` (the ``fleet``
        commands): ``settings.MIGTOOL_FLEET`` when it is set, else every alias."""
        if default_all and not any(getattr(self, option.name) for option in fields(self)):  # nothing selected
            from migtool.django_adapter.bootstrap import read_setting

            project.setup()
            has_setting = read_setting("MIGTOOL_FLEET") is not None
            return api.select_targets(
                project, (), all_databases=not has_setting, fleet="settings" if has_setting else None
            )
        return api.select_targets(
            project, self.databases, all_databases=self.all_databases, fleet=self.fleet, schemas=self.schemas
        )


class FleetView:
    """Reports targets as they finish: a live panel with the counts and the failures on a
    terminal, one line per finished target otherwise (both on stderr)."""

    def __init__(self, app: AppContext, total: int) -> None:
        self.app, self.total = app, total
        self.finished: list[TargetOutcome] = []
        self.live = Live(self._panel(), console=app.err, refresh_per_second=4) if app.err.is_terminal else None
        if self.live is not None:
            self.live.start()

    def __call__(self, outcome: TargetOutcome) -> None:
        self.finished.append(outcome)
        if self.live is not None:
            self.live.update(self._panel())
            return
        applied = f", {outcome.applied} applied" if outcome.applied else ""
        error = f": {outcome.error}" if outcome.error else ""
        self.app.say(f"[{len(self.finished)}/{self.total}] {outcome.target.label}: {outcome.status}{applied}{error}")

    def _panel(self) -> Group:
        tally = ", ".join(f"{n} {status}" for status, n in counts(self.finished).items()) or "starting"
        lines = [Text(f"fleet: {len(self.finished)}/{self.total} finished: {tally}")]
        lines += [Text(f"  x {o.target.label}: {o.status}: {o.error}") for o in self.finished if o.status in BROKEN]
        return Group(*lines)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def run_changing(
    app: AppContext,
    selection: Selection,
    order: api.FleetOrder,
    policy: Policy,
    manifest: str | None,
    *,
    prescan: bool,
    targets: list[Target] | None = None,
) -> None:
    """Run a changing command over the fleet, report it and exit with the fleet's code.

    ``prescan`` skips the targets already up to date (whole-project migrate-safe)
    after one read per database, before any lock or write.
    """
    project = app.project()
    if targets is None:
        targets = selection.targets(project)
    skip = frozenset(api.up_to_date_targets(project, targets)) if prescan else frozenset()
    chosen = executor(app, project)  # a Celery app that cannot be found fails here, before anything runs
    if order.dry_run:  # plan every target, so every refusal is seen; nothing is changed or journaled
        policy = replace(policy, on_failure="continue")
    dry = " (dry run: nothing is changed)" if order.dry_run else ""
    app.say(f"fleet run {order.fleet_run}: {order.command} on {len(targets)} target(s), {len(skip)} up to date{dry}.")
    view = FleetView(app, len(targets))
    try:
        outcomes = run_fleet(project, targets, order, policy, view, skip=skip, executor=chosen)
    finally:
        view.close()
    report(app, order.fleet_run, order.command, outcomes, manifest)


def executor(app: AppContext, project: api.Project) -> Executor | None:
    """The executor ``--executor`` names (None: the local one)."""
    if app.executor != "celery":
        return None
    from migtool.fleet.celery_executor import CeleryExecutor, find_celery_app

    return CeleryExecutor(project, find_celery_app(project, app.celery_app), app.queue)


def report(
    app: AppContext, fleet_run: str | None, command: str, outcomes: list[TargetOutcome], manifest: str | None = None
) -> None:
    """Write the per-target table or JSON (and the manifest), the final line, and exit
    with the worst per-target code (0 when every target succeeded or was up to date)."""
    payload = fleet_to_dict(fleet_run, command, outcomes)
    if manifest:
        Path(manifest).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    title = f"Fleet run {fleet_run}: {command}" if fleet_run else f"Fleet: {command}"
    app.emit(payload, fleet_table(title, outcomes, ascii_only=app.ascii_only))
    for outcome in outcomes:
        if outcome.plan:
            app.say(f"{outcome.target.label} would run: {', '.join(outcome.plan)}")
        for warning in outcome.warnings:
            app.warn(f"{outcome.target.label}: {warning}")
    app.say(summary_line(fleet_run, outcomes))
    code = max((target_exit_code(o) for o in outcomes), default=0)
    if code:
        click.get_current_context().exit(code)


def target_exit_code(outcome: TargetOutcome) -> int:
    """A target's exit code, as its single-database command would have exited."""
    from migtool.cli.main import exit_code_for  # the one table of exit codes

    if outcome.status == RESTORED:
        return exit_code_for(errors.ExecutionError(""))
    if outcome.status not in BROKEN:
        return 0
    if outcome.error_type == "internal":
        return INTERNAL_ERROR
    family: Any = getattr(errors, outcome.error_type or "", errors.ExecutionError)
    code = exit_code_for(family(""))
    return max(code, exit_code_for(errors.RestoreFailedError(""))) if outcome.status == NOT_RESTORED else code


def report_reads(
    app: AppContext,
    selection: Selection,
    read: Callable[[api.Project, str], T],
    *,
    kind: str,
    columns: tuple[str, ...],
    row: Callable[[T], tuple[str, ...]],
    to_dict: Callable[[T], dict[str, Any]],
) -> tuple[list[T], int]:
    """Run a read-only command on each target and show one row per target (or, in JSON,
    the single-database report of each, with its target).  Returns the results that
    were read and the worst exit code of the targets that could not be."""
    from migtool.cli.main import exit_code_for

    project = app.project()
    read_ok: list[T] = []
    rows: list[tuple[str, ...]] = []
    reports: list[dict[str, Any]] = []
    code = 0
    for target, result in api.read_each(project, selection.targets(project), read):
        if isinstance(result, errors.MigtoolError):
            code = max(code, exit_code_for(result))
            rows.append((target.label, *("-" for _ in columns[:-1]), f"error: {result.message}"))
            reports.append(
                {"target": target.label, "error": {"type": type(result).__name__, "message": result.message}}
            )
            continue
        read_ok.append(result)
        rows.append((target.label, *row(result)))
        reports.append({"target": target.label, **to_dict(result)})
    app.emit(
        fleet_reads_to_dict(kind, reports), fleet_rows_table(f"Fleet: {kind}", columns, rows, ascii_only=app.ascii_only)
    )
    return read_ok, code
