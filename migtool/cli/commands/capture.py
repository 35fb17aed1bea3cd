from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import database_option, format_option, lock_timeout_option, project_options
from migtool.render.payloads import capture_to_dict


@click.command("capture")
@database_option
@lock_timeout_option
@format_option
@project_options
@click.pass_obj
def capture(app: AppContext, *, database: str, lock_timeout: float) -> None:
    """Store the source of every applied migration on disk in the database.

    migrate-safe does this for what it applies; run capture after a plain
    'manage.py migrate' (or once, for what was applied before migtool), so a
    rollback after the code was downgraded can load migrations whose files
    are gone.  Writes only its own table, never django_migrations.
    """
    project = app.project()
    with api.exclusive(project, database, lock_timeout):
        result = api.capture_sources(project, database)
    for warning in result.warnings:
        app.warn(warning)
    app.emit(capture_to_dict(result, database), None)
    app.say(
        f"Captured {result.stored} new source(s) on {database!r}; {result.already} already stored"
        + (f"; {len(result.differing)} differ from the stored source (not stored)." if result.differing else ".")
    )
