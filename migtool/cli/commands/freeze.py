from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import format_option, project_options
from migtool.render.payloads import freeze_to_dict
from migtool.render.tables import freeze_table


@click.command("freeze")
@click.option("--release", required=True, metavar="NAME", help="Release name, e.g. 2.0.3.")
@click.option("--force", is_flag=True, help="Overwrite an existing release file.")
@format_option
@project_options
@click.pass_obj
def freeze(app: AppContext, *, release: str, force: bool) -> None:
    """Snapshot every migration on disk as release NAME (no database needed).

    Writes releases/NAME.json: per app the leaf migrations, the full set of
    migrations, each squash's replaces and the sha256 of every file.  Commit it.

    \b
      migtool freeze --release 2.0.3
    """
    result = api.freeze_release(app.project(), release, force=force)
    app.emit(freeze_to_dict(result), freeze_table(result, ascii_only=app.ascii_only))
    total = len(result.snapshot.keys())
    app.say(f"Froze release {release}: {total} migrations in {len(result.snapshot.apps)} apps -> {result.path}")
