from __future__ import annotations

import sys

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.fleet import Selection, run_changing
from migtool.cli.options import (
    fleet_run_options,
    fleet_selection_options,
    format_option,
    lock_timeout_option,
    project_options,
    rehearse_options,
)
from migtool.errors import InputError, PlanRefusedError
from migtool.fleet.runner import Policy
from migtool.render.payloads import rollback_to_dict
from migtool.render.tables import rehearsal_summary, rollback_table


@click.command("rollback")
@click.argument("release", required=False)
@click.option("--last", is_flag=True, help="Undo exactly what the most recent successful migrate-safe run applied.")
@fleet_selection_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show the plan and checks; change nothing. Exit 0 if the rollback could run, 4 if it would be refused.",
)
@click.option("--sql", is_flag=True, help="Print the SQL the rollback would run, in order; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask; also accepts the data loss the plan shows.")
@click.option(
    "--allow-drift",
    is_flag=True,
    help="Roll back even if a migration in the plan was edited after a "
    "release froze it (its revert then runs code that never ran forwards).",
)
@rehearse_options
@click.option(
    "--no-fast-path",
    is_flag=True,
    help="Render every reverted state as Django does, instead of only the models each "
    "revert reads (the same SQL, slower; also MIGTOOL_NO_FAST_PATH=1).",
)
@lock_timeout_option
@fleet_run_options
@format_option
@project_options
@click.pass_obj
def rollback(
    app: AppContext,
    *,
    release: str | None,
    last: bool,
    databases: tuple[str, ...],
    all_databases: bool,
    fleet: str | None,
    dry_run: bool,
    sql: bool,
    yes: bool,
    allow_drift: bool,
    rehearse: bool,
    rehearse_timeout: float,
    no_fast_path: bool,
    lock_timeout: float,
    jobs: int,
    canary: int,
    on_failure: str,
    manifest: str | None,
) -> None:
    """Unapply every applied migration that is not part of RELEASE.

    Across all apps, dependents first, including the parallel branch behind a
    merge migration.  Every step is checked before anything is touched:
    irreversible operations and reverts that would fail on today's data
    refuse the rollback (exit 4); data the revert destroys must be confirmed.

    \b
      migtool rollback 2.0.3 --dry-run     can we roll back?
      migtool rollback 2.0.3 --yes         do it
      migtool rollback --last --yes        undo the last migrate-safe run
      migtool rollback 2.0.3 --dry-run --rehearse   run it in a transaction, roll back

    With --rehearse the plan runs for real inside one transaction that is then
    rolled back; its answer replaces the predictions of the checks (a passed
    rehearsal overrides their blockers). Without --dry-run the rollback then runs.
    """
    if (release is None) == (not last):
        raise InputError(
            "Give either RELEASE or --last, not both and not neither.",
            hint="'migtool rollback 2.0.3' goes back to a release; 'migtool rollback --last' undoes "
            "the last migrate-safe run.",
        )
    if rehearse and sql:
        raise click.UsageError("--rehearse runs the plan; --sql only prints it. Give one of them.")
    selection = Selection(databases, all_databases, fleet, app.schemas)
    if selection.is_fleet:
        if rehearse:
            raise click.UsageError("--rehearse takes one database.")
        if sql or not (yes or dry_run):
            raise click.UsageError("A fleet rollback runs with --yes (or --dry-run); --sql takes one database.")
        if on_failure == "rollback":
            raise click.UsageError("--on-failure rollback restores migrate-safe runs; use stop or continue here.")
        if no_fast_path:
            raise click.UsageError("--no-fast-path takes one database; for a fleet set MIGTOOL_NO_FAST_PATH=1.")
        command = "rollback" if release else "rollback --last"
        order = api.FleetOrder(
            command, api.new_fleet_run(), release, lock_timeout, allow_drift=allow_drift, dry_run=dry_run
        )
        run_changing(app, selection, order, Policy(jobs, canary, on_failure), manifest, prescan=False)
        return
    database = selection.single
    project = app.project()
    with api.exclusive(project, database, lock_timeout):
        _rollback(
            app,
            project,
            release,
            database=database,
            dry_run=dry_run,
            sql=sql,
            yes=yes,
            allow_drift=allow_drift,
            rehearse_timeout=rehearse_timeout if rehearse else None,
            fast_path=not no_fast_path,
        )


def _rollback(
    app: AppContext,
    project: api.Project,
    release: str | None,
    *,
    database: str,
    dry_run: bool,
    sql: bool,
    yes: bool,
    allow_drift: bool,
    rehearse_timeout: float | None,
    fast_path: bool,
) -> None:
    """Plan, check (and rehearse), confirm and run, while the command holds the database lock."""
    if release is not None:
        preview = api.preview_rollback(project, release, database, allow_drift=allow_drift)
    else:
        preview = api.preview_rollback_last(project, database, allow_drift=allow_drift)
    target = preview.plan.release
    for warning in preview.warnings:
        app.warn(warning)
    if sql:
        api.refuse_if_blocked(preview)
        click.echo("\n".join(api.rollback_sql(project, preview, fast_path=fast_path)))
        return
    if not preview.plan.steps and not preview.blockers:
        app.emit(rollback_to_dict(preview, executed=False), None)
        app.say(f"Nothing to roll back: database {database!r} has nothing applied outside {target}.")
        return
    rehearsal = None
    if rehearse_timeout is not None and not preview.plan_blockers:  # plan blockers stand whatever runs
        rehearsal = api.rehearse_rollback(preview, rehearse_timeout, app.progress("rehearsing"), fast_path=fast_path)
    if dry_run or not app.json:
        payload = rollback_to_dict(preview, executed=False, rehearsal=rehearsal)
        app.emit(payload, rollback_table(preview, ascii_only=app.ascii_only))
    if rehearsal is not None:
        app.say(rehearsal_summary(rehearsal))
        if rehearsal.passed and preview.step_blockers:
            app.say(f"It disproves {len(preview.step_blockers)} blocker(s) the checks predicted from today's data.")
    blockers = preview.blockers_after(rehearsal)
    if preview.uncertain and rehearsal is None:
        app.say(
            f"{len(preview.uncertain)} check(s) depend on what earlier steps do to the data ('?'); "
            "they do not block. Run with --rehearse for the exact answer."
        )
    if dry_run:
        if blockers:
            _print_blockers(app, blockers)
            click.get_current_context().exit(4)
        app.say(f"Dry run: the rollback to {target} can run ({len(preview.plan.steps)} steps); nothing was changed.")
        return
    api.refuse_if_blocked(preview, rehearsal)
    _confirm(app, preview, yes)
    unapplied = api.execute_rollback(
        project,
        preview,
        app.progress("unapplying"),
        app.warn,
        command="rollback" if release else "rollback --last",
        rehearsal=rehearsal,
        fast_path=fast_path,
    )
    if app.json:
        app.emit(rollback_to_dict(preview, executed=True, rehearsal=rehearsal), None)
    app.say(f"Rolled back {database!r} to {target}: unapplied {len(unapplied)} migration(s).")


def _print_blockers(app: AppContext, blockers: tuple[str, ...]) -> None:
    app.say(f"The rollback would be refused ({len(blockers)} blocker(s)):")
    for blocker in blockers:
        app.say(f"  ! {blocker}")


def _confirm(app: AppContext, preview: api.RollbackPreview, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(
            "Refusing to roll back without confirmation: there is no terminal to ask on.",
            hint="Pass --yes to confirm (it also accepts the data loss the plan shows).",
        )
    for loss in preview.data_loss:
        app.say(f"Data loss: {loss}")
    if not click.confirm(f"Unapply {len(preview.plan.steps)} migration(s) on {preview.database!r}?", err=True):
        raise PlanRefusedError("Rollback cancelled; nothing was touched.")
