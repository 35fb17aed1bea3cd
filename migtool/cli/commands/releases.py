from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import format_option, project_options
from migtool.render.payloads import releases_to_dict
from migtool.render.tables import releases_table


@click.command("releases")
@format_option
@project_options
@click.pass_obj
def releases(app: AppContext) -> None:
    """List the known releases, newest first (2.0.10 after 2.0.9)."""
    found = api.list_releases(app.project())
    app.emit(releases_to_dict(found), releases_table(found, ascii_only=app.ascii_only))
    for summary in found:
        if summary.problem:
            app.say(f"Warning: {summary.problem}")
    if not found:
        app.say(f"No releases in {app.project().store.directory}; create one with 'migtool freeze --release NAME'.")
