from __future__ import annotations

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
from migtool.errors import InputError
from migtool.fleet.runner import Policy
from migtool.render.payloads import migrate_to_dict
from migtool.render.tables import migrate_table, rehearsal_summary


@click.command("migrate-safe")
@click.argument("app_label", required=False)
@click.argument("migration_name", required=False)
@fleet_selection_options
@click.option("--release", metavar="NAME", help="Migrate to exactly this frozen release's state.")
@click.option(
    "--plan",
    "--dry-run",
    "show_plan",
    is_flag=True,
    help="Show what would run (per target in a fleet); change nothing.",
)
@click.option(
    "--require-reversible",
    is_flag=True,
    help="Refuse (exit 4) a batch that could not be undone "
    "if it failed, because it contains irreversible steps and cannot be one transaction.",
)
@click.option(
    "--noinput",
    "--no-input",
    "no_input",
    is_flag=True,
    help="Accepted for manage.py compatibility; migrate-safe never prompts.",
)
@rehearse_options
@lock_timeout_option
@fleet_run_options
@format_option
@project_options
@click.pass_obj
def migrate_safe(
    app: AppContext,
    *,
    app_label: str | None,
    migration_name: str | None,
    databases: tuple[str, ...],
    all_databases: bool,
    fleet: str | None,
    release: str | None,
    show_plan: bool,
    require_reversible: bool,
    no_input: bool,
    rehearse: bool,
    rehearse_timeout: float,
    lock_timeout: float,
    jobs: int,
    canary: int,
    on_failure: str,
    manifest: str | None,
) -> None:
    """Migrate as one batch: if any migration fails, the database goes back to
    exactly where it started (exit 6).

    Arguments work as for manage.py migrate.  On PostgreSQL and SQLite with
    atomic migrations the batch is one transaction; otherwise the migrations
    this run applied are unapplied again, newest first.

    \b
      migtool migrate-safe
      migtool migrate-safe shop 0004
      migtool migrate-safe --release 2.0.4 --require-reversible
      migtool migrate-safe --all-databases --jobs 4 --on-failure rollback
      migtool migrate-safe --plan --rehearse     apply in a transaction, roll back

    With several targets (--database repeated, --all-databases, --fleet) it
    runs per target, canaries first; see 'migtool fleet --help'.
    """
    if release and app_label:
        raise InputError(
            "Give either APP_LABEL [MIGRATION_NAME] or --release, not both.",
            hint="'migtool migrate-safe shop 0004' migrates an app; 'migtool migrate-safe --release 2.0.4' a release.",
        )
    if rehearse and not show_plan:
        raise click.UsageError("--rehearse goes with --plan: the batch itself is already all-or-nothing.")
    selection = Selection(databases, all_databases, fleet, app.schemas)
    if selection.is_fleet:
        if rehearse:
            raise click.UsageError("--rehearse takes one database.")
        if app_label:
            raise click.UsageError("A fleet migrates whole projects (or --release); APP_LABEL takes one database.")
        order = api.FleetOrder(
            "migrate-safe",
            api.new_fleet_run(),
            release,
            lock_timeout,
            require_reversible=require_reversible,
            dry_run=show_plan,
        )
        run_changing(app, selection, order, Policy(jobs, canary, on_failure), manifest, prescan=release is None)
        return
    database = selection.single
    project = app.project()
    with api.exclusive(project, database, lock_timeout, create=not show_plan):
        _migrate_safe(
            app,
            project,
            database=database,
            app_label=app_label,
            migration_name=migration_name,
            release=release,
            show_plan=show_plan,
            require_reversible=require_reversible,
            rehearse_timeout=rehearse_timeout if rehearse else None,
        )


def _migrate_safe(
    app: AppContext,
    project: api.Project,
    *,
    database: str,
    app_label: str | None,
    migration_name: str | None,
    release: str | None,
    show_plan: bool,
    require_reversible: bool,
    rehearse_timeout: float | None,
) -> None:
    """Plan, check (or rehearse) and run, while the command holds the database lock."""
    preview = api.preview_migrate(
        project, database, app_label=app_label, migration=migration_name, release=release, create=not show_plan
    )
    if not preview.steps:
        app.emit(migrate_to_dict(preview, executed=False), None)
        app.say(f"Nothing to migrate on {database!r}.")
        return
    rehearsal = None
    if rehearse_timeout is not None:
        rehearsal = api.rehearse_migrate(preview, rehearse_timeout, app.progress("rehearsing"))
    if show_plan or not app.json:
        payload = migrate_to_dict(preview, executed=False, rehearsal=rehearsal)
        app.emit(payload, migrate_table(preview, ascii_only=app.ascii_only))
    if rehearsal is not None:
        app.say(rehearsal_summary(rehearsal))
    if preview.unsafe:
        app.say(
            f"Warning: {database!r} cannot run this batch as one transaction, and these steps could not be "
            "undone if a later step failed:"
        )
        for blocker in preview.undo_blockers:
            app.say(f"  x {blocker}")
        if require_reversible:
            api.refuse_if_unsafe(preview)
    if show_plan:
        if rehearsal is not None and not rehearsal.passed:
            click.get_current_context().exit(4)
        return
    run_id = api.execute_migrate(project, preview, app.progress("applying"), app.warn)
    if app.json:
        app.emit(migrate_to_dict(preview, executed=True, run_id=run_id), None)
    app.say(f"Applied {len(preview.steps)} migration(s) on {database!r} (run {run_id}).")
