"""What a database has applied, compared with the code and the known releases."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.planner import matches_release
from migtool.core.snapshot import ReleaseSnapshot


@dataclass(frozen=True)
class AppStatus:
    """One app on one database.

    ``ghosts`` are recorded rows for migrations neither on disk nor named by a
    squash's ``replaces``; ``duplicates`` are keys recorded more than once.
    ``captured`` are the applied migrations whose source the database stores;
    ``from_stored`` the applied ones known only from that store (not on disk).
    """

    app: str
    applied: tuple[str, ...]
    unapplied: tuple[str, ...]
    ghosts: tuple[str, ...]
    duplicates: tuple[str, ...]
    captured: tuple[str, ...] = ()
    from_stored: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseStatus:
    """The whole database: per app, and which releases it matches exactly.
    ``unreadable_releases`` maps release files that could not be read (and so
    were not compared) to the problem."""

    database: str
    apps: tuple[AppStatus, ...]
    matching_releases: tuple[str, ...]
    unreadable_releases: Mapping[str, str] = field(default_factory=dict)


def database_status(
    graph: ProjectGraph,
    recorded: Mapping[MigrationKey, int],
    releases: Iterable[ReleaseSnapshot],
    database: str,
    stored: Collection[MigrationKey] = (),
    from_stored: Collection[MigrationKey] = (),
) -> DatabaseStatus:
    """Return the status of a database whose ``django_migrations`` rows are ``recorded``.

    Applied state follows Django's squash rules (``ProjectGraph.applied``).  A
    release matches when rolling back to it would change nothing and nothing of
    it is missing (``matches_release``); pass legacy releases resolved.
    ``stored`` are the keys with a stored source, ``from_stored`` the graph's
    nodes loaded from one.
    """
    rows = frozenset(recorded)
    applied = graph.applied(rows)
    effective = graph.effective(rows).parents
    named_by_squash = {r for replaced in graph.replaces.values() for r in replaced}
    ghosts = {k for k in rows if k not in graph and k not in named_by_squash}
    duplicates = {k for k, count in recorded.items() if count > 1}
    apps = []
    for app in sorted({k.app_label for k in effective} | {k.app_label for k in ghosts}):

        def names(keys: Iterable[MigrationKey], app: str = app) -> tuple[str, ...]:
            return tuple(sorted(k.name for k in keys if k.app_label == app))

        apps.append(
            AppStatus(
                app=app,
                applied=names(applied),
                unapplied=names(k for k in effective if k not in applied),
                ghosts=names(ghosts),
                duplicates=names(duplicates),
                captured=names(k for k in applied if k in stored),
                from_stored=names(k for k in applied if k in from_stored),
            )
        )
    matching = tuple(r.release for r in releases if matches_release(graph, rows, r))
    return DatabaseStatus(database=database, apps=tuple(apps), matching_releases=matching)
