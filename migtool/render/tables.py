"""Rich tables for every report.  Symbols carry meaning, not colour alone
(colour is off in CI logs and when ``NO_COLOR`` is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from migtool.api import FreezeResult, MigratePreview, ReleaseSummary, RollbackPreview, TagFreeze, VerifyReport
    from migtool.core.doctor import Finding
    from migtool.core.release_diff import AppDiff, ReleaseDiff
    from migtool.core.safety import StepCheck
    from migtool.core.status import DatabaseStatus
    from migtool.django_adapter.journal import RunRecord
    from migtool.django_adapter.rehearsal import Rehearsal
    from migtool.fleet.outcomes import TargetOutcome


def _table(title: str, *columns: str, ascii_only: bool) -> Table:
    table = Table(title=title, box=box.ASCII if ascii_only else box.ROUNDED, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def freeze_table(result: FreezeResult, *, ascii_only: bool) -> Table:
    table = _table(
        f"Release {result.snapshot.release}", "App", "Leaves", "Migrations", "Squashes", ascii_only=ascii_only
    )
    for app, snap in result.snapshot.apps.items():
        table.add_row(app, ", ".join(snap.leaves), str(len(snap.migrations)), ", ".join(sorted(snap.squashes)))
    return table


def freeze_tags_table(frozen: list[TagFreeze], *, ascii_only: bool) -> Table:
    table = _table(
        "Releases from git tags", "Tag", "Release", "Commit", "Apps", "Migrations", "Written", ascii_only=ascii_only
    )
    for f in frozen:
        if f.snapshot is None:
            table.add_row(f.tag, f.release, f.commit[:12], "", "", "no (exists; --force overwrites)")
        else:
            count = str(len(f.snapshot.keys()))
            table.add_row(f.tag, f.release, f.commit[:12], str(len(f.snapshot.apps)), count, "yes")
    return table


def releases_table(releases: list[ReleaseSummary], *, ascii_only: bool) -> Table:
    table = _table(
        "Releases (newest first)", "Release", "Apps", "Migrations", "Format", "Frozen from", ascii_only=ascii_only
    )
    for r in releases:
        count = "?" if r.migrations is None else str(r.migrations)
        form = f"! unreadable: {r.problem}" if r.problem else "legacy (leaves only)" if r.legacy else "full"
        origin = "code" if r.source is None else f"git {r.source.get('git_ref')} @ {r.source.get('commit', '')[:12]}"
        if r.not_frozen:
            origin += f" (not frozen: {', '.join(r.not_frozen)})"
        table.add_row(r.name, "?" if r.apps is None else str(r.apps), count, form, "?" if r.problem else origin)
    return table


def diff_table(changes: ReleaseDiff, *, ascii_only: bool) -> Table:
    """The project's own apps first, then apps whose migrations are installed packages,
    named with the distribution's versions: their edits are upstream's, not the project's."""
    table = _table(f"{changes.old} -> {changes.new}", "App", "Change", "Migration", ascii_only=ascii_only)
    for app in sorted(changes.apps, key=lambda a: a.upstream):
        label, edited = (
            (f"{app.app} ({_versions(app)})", "~ edited upstream") if app.upstream else (app.app, "~ edited")
        )
        for symbol, names in (("+ added", app.added), ("- removed", app.removed), (edited, app.edited)):
            for name in names:
                table.add_row(label, symbol, name)
        for name, replaced in app.squashed:
            table.add_row(label, "= squashed", f"{name} (replaces {replaced} already in {changes.old})")
    return table


def _versions(app: AppDiff) -> str:
    old, new = app.old_distribution, app.new_distribution
    if old is None or new is None or old == new:
        return str(old or new)
    return f"{old} -> {new.version}" if old.name == new.name else f"{old} -> {new}"


def status_table(status: DatabaseStatus, *, ascii_only: bool) -> Table:
    table = _table(
        f"Database {status.database!r}",
        "App",
        "Applied",
        "Captured",
        "Unapplied",
        "Ghost rows",
        "Duplicate rows",
        ascii_only=ascii_only,
    )
    for app in status.apps:
        stored = "".join(f"\n* {name} (stored source)" for name in app.from_stored)
        table.add_row(
            app.app,
            str(len(app.applied)),
            f"{len(app.captured)}/{len(app.applied)}{stored}",
            "\n".join(app.unapplied) or "-",
            "\n".join(app.ghosts) or "-",
            "\n".join(app.duplicates) or "-",
        )
    return table


def _steps_table(
    title: str, checks: tuple[StepCheck, ...], columns: dict[str, Callable[[StepCheck], str]], *, ascii_only: bool
) -> Table:
    """One row per checked step, in execution order: number, app, migration, then ``columns``."""
    table = _table(title, "#", "App", "Migration", *columns, ascii_only=ascii_only)
    for number, check in enumerate(checks, 1):
        table.add_row(str(number), check.key.app_label, check.key.name, *(cell(check) for cell in columns.values()))
    return table


def _lines(items: tuple[str, ...], prefix: str = "") -> str:
    return "\n".join(f"{prefix}{item}" for item in items) or "-"


def rollback_table(preview: RollbackPreview, *, ascii_only: bool) -> Table:
    """The plan in execution order; '!' marks a blocker, '?' a check an earlier step makes
    uncertain, 'x' an irreversible step.
    Steps loaded from sources stored in the database (not on disk) say so in 'Source'."""
    mode = "one transaction" if preview.one_transaction else "step by step, re-applied on failure"
    plan = preview.plan
    title = f"Rollback of {preview.database!r} to {plan.release}: {len(plan.steps)} step(s), {mode}" + (
        " (over squashed originals)" if plan.use_originals else ""
    )
    if plan.steps and not preview.checks:  # the state did not render: a blocker says why
        title += ", not checked"
    columns: dict[str, Callable[[StepCheck], str]] = {}
    if preview.from_stored:
        title += f", {len(preview.from_stored)} from stored sources"
        columns["Source"] = lambda c: "* stored" if c.key in preview.from_stored else "disk"
    columns |= {
        "Reverting does": lambda c: _lines(c.effects),
        "Reversible": lambda c: "yes" if c.reversible else "x NO",
        "Data impact": lambda c: _lines(c.data_loss),
        "Blocked": lambda c: _lines((*(f"! {b}" for b in c.blockers), *(f"? {u}" for u in c.uncertain))),
    }
    return _steps_table(title, preview.checks, columns, ascii_only=ascii_only)


def migrate_table(preview: MigratePreview, *, ascii_only: bool) -> Table:
    """The forward batch; 'x' marks a step that could not be undone if a later one failed."""
    mode = "one transaction" if preview.one_transaction else "step by step, unapplied again on failure"
    target = f" to {preview.release}" if preview.release else ""
    title = f"migrate-safe{target} on {preview.database!r}: {len(preview.steps)} migration(s), {mode}"
    columns: dict[str, Callable[[StepCheck], str]] = {
        "Can be undone": lambda c: "yes" if c.reversible else "x NO",
        "Atomic": lambda c: "yes" if c.atomic else "no",
        "Why not": lambda c: _lines(c.blockers),
    }
    return _steps_table(title, preview.checks, columns, ascii_only=ascii_only)


def history_table(runs: list[RunRecord], *, ascii_only: bool) -> Table:
    table = _table(
        "Runs (newest first)", "Run", "Command", "Release", "Status", "Started", "Finished", "By", ascii_only=ascii_only
    )
    for run in runs:
        table.add_row(
            str(run.id),
            run.command,
            run.release or "-",
            run.status,
            _when(run.started_at),
            _when(run.finished_at),
            f"{run.user}@{run.host}",
        )
    return table


def run_table(run: RunRecord, *, ascii_only: bool) -> Table:
    title = f"Run {run.id}: {run.command} {run.release or ''} - {run.status}" + (f" ({run.error})" if run.error else "")
    table = _table(title, "#", "Migration", "Direction", "Outcome", "Started", "Finished", ascii_only=ascii_only)
    for step in run.steps:
        table.add_row(
            str(step.position),
            str(step.key),
            step.direction,
            step.outcome,
            _when(step.started_at),
            _when(step.finished_at),
        )
    return table


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def doctor_table(findings: list[Finding], *, ascii_only: bool) -> Table:
    """Findings grouped by severity (they arrive sorted): what, where, why, what to do."""
    table = _table(
        "migtool doctor", "Severity", "Check", "Where", "Found", "Why it matters", "Fix", ascii_only=ascii_only
    )
    for finding in findings:
        table.add_row(
            finding.severity.upper(), finding.code, finding.subject, finding.message, finding.why, finding.fix
        )
    return table


def verify_table(report: VerifyReport, *, ascii_only: bool) -> Table:
    """One row per release step; 'x' marks a failing step, the last column says why."""
    title = f"verify {report.database!r} on scratch database {report.scratch}" + (
        " (with seeded data)" if report.with_data else ""
    )
    table = _table(
        title, "", "Step", "Forward", "Rollback", "Schema", "Forward again", "Time", "Found", ascii_only=ascii_only
    )
    for step in report.steps:
        found = (
            [*step.errors, *step.differences, *step.irreversible]
            + ["pre-flight miss: it had called this rollback safe"] * step.preflight_miss
            + [f"pre-flight predicted: {p}" for p in step.predicted] * (step.rollback == "failed")
            + list(step.notes)
            + [f"not seeded: {why}" for why in step.seed_skipped]
        )
        table.add_row(
            "ok" if step.ok else "x",
            f"{step.old} -> {step.new}" if step.old else f"-> {step.new}",
            step.forward,
            step.rollback,
            step.schema,
            step.forward_again,
            f"{step.seconds:.1f}s",
            _lines(tuple(found)),
        )
    return table


def fleet_table(title: str, outcomes: list[TargetOutcome], *, ascii_only: bool) -> Table:
    """One row per target of a fleet run, in the fleet's order."""
    table = _table(title, "Target", "Status", "Applied", "Duration", "Error", ascii_only=ascii_only)
    for o in outcomes:
        table.add_row(o.target.label, o.status, str(o.applied), f"{o.duration:.1f} s", o.error or "-")
    return table


def fleet_rows_table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], *, ascii_only: bool) -> Table:
    """A per-target summary of a read-only command (status, doctor) over a fleet."""
    table = _table(title, "Target", *columns, ascii_only=ascii_only)
    for row in rows:
        table.add_row(*row)
    return table


def rehearsal_summary(rehearsal: Rehearsal) -> str:
    """One line on what the rehearsal did, for stderr."""
    if rehearsal.passed:
        return (
            f"Rehearsal passed: all {rehearsal.steps} step(s) ran inside one transaction, "
            "which was then rolled back; nothing was changed."
        )
    where = f"step {rehearsal.ran + 1} of {rehearsal.steps} ({rehearsal.failed})" if rehearsal.failed else "the plan"
    return f"Rehearsal failed: {where} failed with {rehearsal.error}; it was rolled back, nothing was changed."
