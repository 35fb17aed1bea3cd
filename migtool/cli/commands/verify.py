from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import database_option, format_option, project_options
from migtool.render.payloads import verify_to_dict
from migtool.render.tables import verify_table


@click.command("verify")
@database_option
@click.option("--from", "first", metavar="RELEASE", help="Start the chain at this release [default: the oldest].")
@click.option(
    "--to", "last", metavar="RELEASE", help="End the chain at this release [default: the newest, then the code]."
)
@click.option("--with-data", is_flag=True, help="Seed generated rows in every table at each release.")
@click.option("--keep", is_flag=True, help="Keep the scratch database afterwards (its name is printed).")
@click.option(
    "--allow-irreversible",
    multiple=True,
    metavar="APP.MIGRATION",
    help="An irreversible migration that is expected; repeat for several.",
)
@format_option
@project_options
@click.pass_obj
def verify(
    app: AppContext,
    *,
    database: str,
    first: str | None,
    last: str | None,
    with_data: bool,
    keep: bool,
    allow_irreversible: tuple[str, ...],
) -> None:
    """Rehearse every release's rollback on a scratch database: exit 0 only if all pass.

    On an empty database of ALIAS's engine (test_<NAME>, or a temporary SQLite
    file; ALIAS's own database is never opened) it migrates to the oldest
    release, then for each next release migrates forward, rolls back, checks
    that the schema is exactly the release's again, and migrates forward again.
    The last step goes from the newest release to the code on disk.  Exit 1
    when a step fails.

    \b
      migtool verify
      migtool verify --from 2.0.3 --with-data
      migtool verify --allow-irreversible catalog.0005_backfill_uppercase_sku
    """

    def progress(step: api.StepResult) -> None:
        start = f"{step.old} -> " if step.old else "-> "
        app.say(f"verify: {start}{step.new}: {'ok' if step.ok else 'FAILED'}")

    report = api.verify_releases(
        app.project(),
        database,
        first=first,
        last=last,
        with_data=with_data,
        keep=keep,
        allow_irreversible=allow_irreversible,
        report=progress,
    )
    app.emit(verify_to_dict(report), verify_table(report, ascii_only=app.ascii_only))
    if keep:
        app.say(f"Kept the scratch database: {report.scratch}")
    failed = sum(not step.ok for step in report.steps)
    app.say(f"verify: {len(report.steps) - failed} of {len(report.steps)} step(s) passed.")
    if failed:
        click.get_current_context().exit(1)
