from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.fleet import Selection, report_reads
from migtool.cli.options import fleet_selection_options, format_option, project_options
from migtool.core.status import DatabaseStatus
from migtool.render.payloads import status_to_dict
from migtool.render.tables import status_table


@click.command("status")
@fleet_selection_options
@format_option
@project_options
@click.pass_obj
def status(app: AppContext, *, databases: tuple[str, ...], all_databases: bool, fleet: str | None) -> None:
    """Show what the database has applied, and which release it matches.

    Applied state follows Django's rules for squashes; ghost rows are recorded
    migrations that no longer exist on disk.  It creates and changes nothing.
    With several targets, one line per target.
    """
    selection = Selection(databases, all_databases, fleet, app.schemas)
    if selection.is_fleet:
        _, code = report_reads(
            app,
            selection,
            api.database_state,
            kind="status",
            columns=("Applied", "Unapplied", "Ghost rows", "Matches release"),
            row=_summary,
            to_dict=status_to_dict,
        )
        if code:
            click.get_current_context().exit(code)
        return
    database = selection.single
    state = api.database_state(app.project(), database)
    app.emit(status_to_dict(state), status_table(state, ascii_only=app.ascii_only))
    for problem in state.unreadable_releases.values():
        app.say(f"Warning: {problem} Not compared.")
    if state.matching_releases:
        app.say(f"Database {database!r} matches release {', '.join(state.matching_releases)}.")
    else:
        app.say(f"Database {database!r} matches no known release exactly.")


def _summary(state: DatabaseStatus) -> tuple[str, ...]:
    return (
        str(sum(len(a.applied) for a in state.apps)),
        str(sum(len(a.unapplied) for a in state.apps)),
        str(sum(len(a.ghosts) for a in state.apps)),
        ", ".join(state.matching_releases) or "-",
    )
