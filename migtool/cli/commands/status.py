from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import database_option, format_option, project_options
from migtool.render.payloads import status_to_dict
from migtool.render.tables import status_table


@click.command("status")
@database_option
@format_option
@project_options
@click.pass_obj
def status(app: AppContext, *, database: str) -> None:
    """Show what the database has applied, and which release it matches.

    Applied state follows Django's rules for squashes; ghost rows are recorded
    migrations that no longer exist on disk.  Read-only: creates nothing.
    """
    state = api.database_state(app.project(), database)
    app.emit(status_to_dict(state), status_table(state, ascii_only=app.ascii_only))
    for problem in state.unreadable_releases.values():
        app.say(f"Warning: {problem} Not compared.")
    if state.matching_releases:
        app.say(f"Database {database!r} matches release {', '.join(state.matching_releases)}.")
    else:
        app.say(f"Database {database!r} matches no known release exactly.")
