"""Use cases that draw: the migration graph, optionally with a rollback plan, and a diff.

Why it exists: ``migtool graph`` needs the graph, the release files and the
adapter's facts about each migration (irreversible operations) gathered in one
place; the drawing itself is pure (``core.drawing``).  Read-only, and without
``--database`` it needs no database at all.
"""

from __future__ import annotations

from collections.abc import Collection

from migtool.api.project import Project
from migtool.core.drawing import Drawing, draw_diff, draw_graph
from migtool.core.planner import plan_rollback
from migtool.core.release_diff import ReleaseDiff
from migtool.core.snapshot import check_release_name


def draw_project(
    project: Project,
    release: str | None = None,
    *,
    apps: Collection[str] | None = None,
    database: str | None = None,
    history: bool = False,
) -> Drawing:
    """Draw the project's migration graph; with ``release``, the rollback plan to it.

    The plan is made for ``database``'s recorded rows when given (read-only),
    else for a database where every migration on disk is applied.
    """
    from migtool.django_adapter.loader import load_facts

    if release is not None:
        check_release_name(release)
    project.setup()
    graph = project.graph
    if database is None:
        recorded = graph.stands_for(graph.nodes)
    else:
        from migtool.django_adapter.connection import get_connection
        from migtool.django_adapter.loader import load_recorded

        recorded = frozenset(load_recorded(get_connection(database)))
    plan = plan_rollback(graph, recorded, project.load_release(release)) if release is not None else None
    releases = [project.load_release(name) for name in project.store.names()]
    return draw_graph(graph, graph.effective(recorded), releases, load_facts(), plan=plan, apps=apps, history=history)


def draw_changes(project: Project, changes: ReleaseDiff, *, on_disk: bool) -> Drawing:
    """Draw what ``changes`` holds; edges come from the code when the diff was
    against the code on disk (its graph is loaded then anyway)."""
    return draw_diff(changes, project.graph.effective() if on_disk else None)
