"""``migtool fleet status`` and ``migtool fleet resume``: a fleet run read back from its targets' journals."""

from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.fleet import Selection, report, run_changing
from migtool.cli.options import (
    fleet_run_options,
    fleet_selection_options,
    format_option,
    lock_timeout_option,
    project_options,
)
from migtool.fleet.outcomes import DONE, RESTORED
from migtool.fleet.runner import Policy


@click.group("fleet")
@project_options
def fleet_group() -> None:
    """Fleet runs: one command over many databases or schemas.

    migrate-safe, rollback, status and doctor take a fleet with --database
    repeated, --all-databases, or --fleet FILE|settings.  Every target's
    journal records the fleet run's id; these commands read it back.  With no
    targets named they use settings.MIGTOOL_FLEET, else every alias.

    \b
      migtool migrate-safe --all-databases --jobs 4 --on-failure rollback
      migtool fleet status                 the newest fleet run, one line per target
      migtool fleet resume RUN             finish the targets RUN did not
    """


@fleet_group.command("status")
@click.argument("run", required=False)
@fleet_selection_options
@format_option
@project_options
@click.pass_obj
def fleet_status(
    app: AppContext, *, run: str | None, databases: tuple[str, ...], all_databases: bool, fleet: str | None
) -> None:
    """Show what fleet run RUN (default: the newest) did to each target. Read-only.

    Exit 0 when every target succeeded or was up to date, else the worst
    per-target code.
    """
    project = app.project()
    targets = Selection(databases, all_databases, fleet, app.schemas).targets(project, default_all=True)
    fleet_run, outcomes = api.fleet_status(project, targets, run)
    report(app, fleet_run, "status", outcomes)


@fleet_group.command("resume")
@click.argument("run")
@fleet_selection_options
@lock_timeout_option
@fleet_run_options
@format_option
@project_options
@click.pass_obj
def fleet_resume(
    app: AppContext,
    *,
    run: str,
    databases: tuple[str, ...],
    all_databases: bool,
    fleet: str | None,
    lock_timeout: float,
    jobs: int,
    canary: int,
    on_failure: str,
    manifest: str | None,
) -> None:
    """Run fleet run RUN's command again on the targets it has not succeeded on.

    Targets that succeeded or were up to date are left alone; the others
    (failed, restored, interrupted, not started) run under the same fleet run
    id, each planned afresh from its own database.
    """
    project = app.project()
    selection = Selection(databases, all_databases, fleet, app.schemas)
    targets = selection.targets(project, default_all=True)
    order = api.fleet_command(project, targets, run)
    _, outcomes = api.fleet_status(project, targets, run)
    remaining = [o.target for o in outcomes if o.status not in DONE]
    if not remaining:
        app.say(f"fleet run {run}: every target has succeeded or is up to date; nothing to resume.")
        return
    if on_failure == "rollback" and order.command != "migrate-safe":
        raise click.UsageError("--on-failure rollback restores migrate-safe runs; use stop or continue here.")
    restored = sum(o.status == RESTORED for o in outcomes)
    app.say(f"fleet run {run}: resuming {len(remaining)} target(s) ({restored} restored earlier).")
    order = api.FleetOrder(order.command, run, order.release, lock_timeout)
    run_changing(
        app,
        selection,
        order,
        Policy(jobs, canary, on_failure),
        manifest,
        prescan=order.command == "migrate-safe" and order.release is None,
        targets=remaining,
    )
