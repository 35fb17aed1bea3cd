from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.fleet import Selection, report_reads
from migtool.cli.options import fleet_selection_options, format_option, project_options
from migtool.core.doctor import Finding
from migtool.render.payloads import doctor_to_dict
from migtool.render.tables import doctor_table

LEVELS = ("error", "warning", "info")


@click.command("doctor")
@fleet_selection_options
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@format_option
@project_options
@click.pass_obj
def doctor(
    app: AppContext, *, databases: tuple[str, ...], all_databases: bool, fleet: str | None, strict: bool
) -> None:
    """Find what makes migrations and rollbacks unsafe, before a deploy does.

    Checks the code (conflicting leaves, suspicious replaces, squashes partly on
    disk, irreversible and non-atomic migrations), the release files (drift,
    unreachable releases) and, with --database, the recorded state (ghost and
    duplicate rows, inconsistent history, partly applied squashes, interrupted
    runs).  Exit 1 when there is an error (with --strict, also a warning).
    With several targets, one line per target.  It changes nothing.
    """
    failing = {"error", "warning"} if strict else {"error"}
    selection = Selection(databases, all_databases, fleet, app.schemas)
    if selection.is_fleet:
        reports, code = report_reads(
            app,
            selection,
            api.diagnose_project,
            kind="doctor",
            columns=(*(f"{level}s" for level in LEVELS), "Findings"),
            row=lambda findings: (
                *(str(sum(f.severity == level for f in findings)) for level in LEVELS),
                ", ".join(sorted({f.code for f in findings})) or "-",
            ),
            to_dict=lambda findings: doctor_to_dict(findings, database=None, failed=_failed(findings, failing)),
        )
        failed = any(_failed(findings, failing) for findings in reports)
        if code or failed:
            click.get_current_context().exit(max(code, 1))
        return
    database = selection.single if databases else None
    findings = api.diagnose_project(app.project(), database)
    failed = _failed(findings, failing)
    app.emit(
        doctor_to_dict(findings, database=database, failed=failed),
        doctor_table(findings, ascii_only=app.ascii_only) if findings else None,
    )
    counts = ", ".join(f"{sum(f.severity == s for f in findings)} {s}(s)" for s in LEVELS)
    app.say(f"doctor: {counts}" if findings else "doctor: no findings.")
    if failed:
        click.get_current_context().exit(1)


def _failed(findings: list[Finding], failing: set[str]) -> bool:
    return any(f.severity in failing for f in findings)
