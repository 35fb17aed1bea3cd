"""Use cases on release files: freeze, diff, list, and a database's status against them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from migtool.api.project import Project
from migtool.core.release_diff import ReleaseDiff, diff
from migtool.core.snapshot import ReleaseSnapshot, check_release_name, resolve_legacy
from migtool.core.status import DatabaseStatus, database_status
from migtool.errors import (
    InputError,
    MalformedReleaseError,
    ReleaseExistsError,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class FreezeResult:
    snapshot: ReleaseSnapshot
    path: Path
    replaced: ReleaseDiff | None


def freeze_release(project: Project, release: str, *, force: bool = False) -> FreezeResult:
    """Write ``releases/<release>.json`` from the migrations on disk; no database is used.

    Raises ``GraphConflictError`` for conflicting leaves and ``ReleaseExistsError``
    when the file exists and ``force`` is false (saying what would change).
    """
    check_release_name(release)
    return save_release(project, project.disk_snapshot(release), force=force)


def save_release(project: Project, snapshot: ReleaseSnapshot, *, force: bool) -> FreezeResult:
    """Write ``snapshot``, refusing to overwrite an existing file (saying what would change) unless ``force``."""
    release = snapshot.release
    changes = None
    if project.store.exists(release):
        try:
            changes = diff(project.load_release(release), snapshot)
        except InputError:
            if not force:
                raise  # its message names the broken file and says --force re-creates it
        else:
            if not force:
                would = _would_change(changes)
                what = "freezing now would " + _summary(would) if any(would.values()) else "nothing would change"
                raise ReleaseExistsError(
                    f"Release {release!r} already exists ({project.store.path(release)}); {what}.",
                    hint="Pass --force to overwrite it, or freeze under a new release name.",
                    release=release,
                    **would,
                )
    return FreezeResult(snapshot, project.store.save(snapshot), changes)


SHOWN_PER_KIND = 10


def _would_change(changes: ReleaseDiff) -> dict[str, list[str]]:
    """Every migration freezing now would add, remove, edit or add as a re-spelling squash, as ``app.name``."""
    would = {
        kind: [f"{a.app}.{name}" for a in changes.apps for name in getattr(a, kind)]
        for kind in ("added", "removed", "edited")
    }
    squashed = [f"{a.app}.{name}" for a in changes.apps for name, _ in a.squashed]
    return would | ({"squashed": squashed} if squashed else {})


def _summary(would: dict[str, list[str]]) -> str:
    """``add shop.0003_price, edit shop.0002_b``: the first ten of each kind, then how many more."""
    parts = []
    for kind, verb in (("added", "add"), ("removed", "remove"), ("edited", "edit"), ("squashed", "squash as")):
        names = would.get(kind, [])
        if names:
            more = len(names) - SHOWN_PER_KIND
            parts.append(f"{verb} {', '.join(names[:SHOWN_PER_KIND])}" + (f" and {more} more" if more > 0 else ""))
    return ", ".join(parts)


def diff_releases(project: Project, old: str, new: str | None = None) -> ReleaseDiff:
    """Compare release ``old`` with release ``new``, or with the migrations on disk now.

    Two current-format release files are compared without setting up Django;
    the code is loaded only for a legacy file or for a comparison with disk.
    """
    check_release_name(old)
    if new is not None:
        check_release_name(new)
    before = project.store.load(old)
    after = project.store.load(new) if new is not None else None
    if before.legacy:
        before = resolve_legacy(before, project.graph)
    if after is None:
        after = project.disk_snapshot()
    elif after.legacy:
        after = resolve_legacy(after, project.graph)
    return diff(before, after)


@dataclass(frozen=True)
class ReleaseSummary:
    """One release file.  ``problem`` says why a file cannot be read (then the
    counts are unknown), so one broken file is listed instead of hiding the rest.
    ``source`` is None when frozen from the code, else where in git."""

    name: str
    apps: int | None
    migrations: int | None
    legacy: bool
    problem: str | None = None
    source: Mapping[str, str] | None = None
    not_frozen: tuple[str, ...] = ()


def list_releases(project: Project) -> list[ReleaseSummary]:
    """Return every known release, newest first; reads files only, no Django setup."""
    summaries = []
    for name in project.store.names():
        try:
            snapshot = project.store.load(name)
        except MalformedReleaseError as error:
            summaries.append(ReleaseSummary(name, None, None, False, error.message))
            continue
        count = None if snapshot.legacy else len(snapshot.keys())
        not_frozen = tuple(sorted(snapshot.not_frozen))
        summaries.append(
            ReleaseSummary(
                name, len(snapshot.apps), count, snapshot.legacy, source=snapshot.source, not_frozen=not_frozen
            )
        )
    return summaries


def database_state(project: Project, database: str) -> DatabaseStatus:
    """Return per app what ``database`` has applied, and the releases it matches exactly."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.loader import load_recorded

    project.setup()
    connection = get_connection(database)
    stored = project.load_stored_sources(connection)
    recorded = load_recorded(connection)
    releases, unreadable = project.readable_releases()
    status = database_status(project.graph, recorded, releases, database, stored.variants, stored.injected)
    return replace(status, unreadable_releases={name: error.message for name, error in unreadable.items()})
