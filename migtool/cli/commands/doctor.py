from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import format_option, project_options
from migtool.render.payloads import doctor_to_dict
from migtool.render.tables import doctor_table


@click.command("doctor")
@click.option("--database", metavar="ALIAS", help="Also check this database's recorded state and journal.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@format_option
@project_options
@click.pass_obj
def doctor(app: AppContext, *, database: str | None, strict: bool) -> None:
    """Find what makes migrations and rollbacks unsafe, before a deploy does.

    Checks the code (conflicting leaves, suspicious replaces, squashes partly on
    disk, irreversible and non-atomic migrations), the release files (drift,
    unreachable releases) and, with --database, the recorded state (ghost and
    duplicate rows, inconsistent history, partly applied squashes, interrupted
    runs).  Exit 1 when there is an error (with --strict, also a warning).
    Read-only.
    """
    findings = api.diagnose_project(app.project(), database)
    failing = {"error", "warning"} if strict else {"error"}
    failed = any(f.severity in failing for f in findings)
    app.emit(
        doctor_to_dict(findings, database=database, failed=failed),
        doctor_table(findings, ascii_only=app.ascii_only) if findings else None,
    )
    counts = ", ".join(f"{sum(f.severity == s for f in findings)} {s}(s)" for s in ("error", "warning", "info"))
    app.say(f"doctor: {counts}" if findings else "doctor: no findings.")
    if failed:
        click.get_current_context().exit(1)
