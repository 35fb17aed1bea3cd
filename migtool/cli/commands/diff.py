from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import format_choice, project_options
from migtool.render.drawing import to_mermaid
from migtool.render.payloads import diff_to_dict
from migtool.render.tables import diff_table


@click.command("diff")
@click.argument("old")
@click.argument("new", required=False)
@click.option("--check", is_flag=True, help="Exit with status 1 when there are differences.")
@format_choice(
    "table", "json", "mermaid", help="Output a Rich table (default), JSON, or a Mermaid flowchart of the changes."
)
@project_options
@click.pass_obj
def diff(app: AppContext, *, old: str, new: str | None, check: bool) -> None:
    """Show migrations added, removed and edited from release OLD to NEW.

    Without NEW, compares OLD with the migrations on disk now.  An edited
    migration is one whose file changed (sha256) while keeping its name.

    \b
      migtool diff 2.0.3 2.0.4
      migtool diff 2.0.4 --check
      migtool diff 2.0.3 2.0.4 --format mermaid    for a pull request
    """
    changes = api.diff_releases(app.project(), old, new)
    if app.format == "mermaid":
        click.echo(to_mermaid(api.draw_changes(app.project(), changes, on_disk=new is None)), nl=False)
    else:
        app.emit(diff_to_dict(changes), diff_table(changes, ascii_only=app.ascii_only) if changes.apps else None)
    for release in changes.unverified:
        app.say(f"Note: release {release} is a legacy (leaves-only) file without checksums; edits cannot be seen.")
    if changes.not_compared:
        apps = ", ".join(changes.not_compared)
        app.say(f"Note: not compared, as a release frozen from git does not describe them: {apps}.")
    upstream = [a for a in changes.apps if a.upstream and a.edited]
    if upstream:
        edits = sum(len(a.edited) for a in upstream)
        app.say(
            f"Note: {edits} edit(s) are inside installed packages ({', '.join(a.app for a in upstream)}): "
            "the package changed its own migrations; 'migtool doctor' judges them (upstream-edited)."
        )
    if not changes.has_changes:
        respelled = " (only squashes re-spelling migrations it already had)" if changes.apps else ""
        app.say(f"No differences between {changes.old} and {changes.new}{respelled}.")
    elif check:
        click.get_current_context().exit(1)
