from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import database_option, format_option, project_options
from migtool.render.payloads import history_to_dict, run_to_dict
from migtool.render.tables import history_table, run_table


@click.command("history")
@click.argument("run_id", type=int, required=False)
@database_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs to list.")
@format_option
@project_options
@click.pass_obj
def history(app: AppContext, *, run_id: int | None, database: str, limit: int) -> None:
    """List migtool's runs on the database (newest first), or show run RUN_ID's steps.

    It changes nothing.  A run whose process died mid-way (even killed) shows as
    interrupted.
    """
    project = app.project()
    if run_id is not None:
        run = api.run_details(project, database, run_id)
        app.emit(run_to_dict(run), run_table(run, ascii_only=app.ascii_only))
        return
    runs = api.run_history(project, database, limit=limit)
    app.emit(history_to_dict(runs), history_table(runs, ascii_only=app.ascii_only))
    if not runs:
        app.say(f"No migtool runs recorded on {database!r}.")
