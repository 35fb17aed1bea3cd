from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import format_choice, project_options
from migtool.core.drawing import Drawing
from migtool.render.drawing import drawing_to_dict, drawing_tree, to_dot, to_mermaid


@click.command("graph")
@click.argument("release", required=False)
@click.option(
    "--app", "apps", multiple=True, metavar="APP", help="Draw this app (repeatable) [default: the apps that change]."
)
@click.option("--all-apps", is_flag=True, help="Draw every app.")
@click.option("--history", is_flag=True, help="Draw each app's migrations up to the baseline release too.")
@click.option("--database", metavar="ALIAS", help="Plan the rollback for this database's recorded state (read-only).")
@format_choice("text", "mermaid", "dot", "json")
@project_options
@click.pass_obj
def graph(
    app: AppContext, *, release: str | None, apps: tuple[str, ...], all_apps: bool, history: bool, database: str | None
) -> None:
    """Draw the migration graph: releases, merges, squashes, irreversible steps.

    With RELEASE, the rollback plan to it is highlighted and listed in
    execution order (for --database's recorded state, else for a database
    with everything on disk applied).  Read-only.

    To stay readable on large projects it draws what changes after a
    baseline release (RELEASE; else the newest release, or the one before it
    when every migration is released): only the apps with migrations after
    it, each app's earlier migrations as one box, and linear runs collapsed.

    \b
      migtool graph                       text tree on the terminal
      migtool graph 2.0.3 --format mermaid > plan.mmd
      migtool graph --all-apps --format dot | dot -Tsvg > graph.svg
    """
    project = app.project()
    selected = project.graph.apps if all_apps else apps
    echo_drawing(app, api.draw_project(project, release, apps=selected, database=database, history=history))


def echo_drawing(app: AppContext, drawing: Drawing) -> None:
    """Write a drawing in the chosen format on stdout."""
    if app.format == "mermaid":
        click.echo(to_mermaid(drawing), nl=False)
    elif app.format == "dot":
        click.echo(to_dot(drawing), nl=False)
    elif app.json:
        app.emit(drawing_to_dict(drawing), None)
    else:
        app.out.print(drawing_tree(drawing, ascii_only=app.ascii_only))
