"""The JSON shapes of every report, each with ``schema_version``.

Lists are sorted so the same state always gives the same bytes.  Bump
``SCHEMA_VERSION`` when a field changes meaning or disappears; adding a field
does not need a bump.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migtool.api import FreezeResult, ReleaseSummary
    from migtool.core.snapshot import ReleaseDiff
    from migtool.core.status import DatabaseStatus
    from migtool.errors import MigtoolError

SCHEMA_VERSION = 1


def _wrap(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "kind": kind, **body}


def diff_to_dict(changes: ReleaseDiff) -> dict[str, Any]:
    return _wrap(
        "diff",
        {
            "old": changes.old,
            "new": changes.new,
            "has_changes": changes.has_changes,
            "unverified": list(changes.unverified),
            "apps": [
                {"app": a.app, "added": list(a.added), "removed": list(a.removed), "edited": list(a.edited)}
                for a in changes.apps
            ],
        },
    )


def freeze_to_dict(result: FreezeResult) -> dict[str, Any]:
    snapshot = result.snapshot
    return _wrap(
        "freeze",
        {
            "release": snapshot.release,
            "path": str(result.path),
            "apps": {
                app: {"leaves": list(s.leaves), "migrations": len(s.migrations), "squashes": sorted(s.squashes)}
                for app, s in snapshot.apps.items()
            },
            "replaced": diff_to_dict(result.replaced) if result.replaced else None,
        },
    )


def releases_to_dict(releases: list[ReleaseSummary]) -> dict[str, Any]:
    return _wrap(
        "releases",
        {
            "releases": [
                {"name": r.name, "apps": r.apps, "migrations": r.migrations, "legacy": r.legacy} for r in releases
            ]
        },
    )


def status_to_dict(status: DatabaseStatus) -> dict[str, Any]:
    return _wrap(
        "status",
        {
            "database": status.database,
            "matching_releases": list(status.matching_releases),
            "apps": [
                {
                    "app": a.app,
                    "applied": list(a.applied),
                    "unapplied": list(a.unapplied),
                    "ghosts": list(a.ghosts),
                    "duplicates": list(a.duplicates),
                }
                for a in status.apps
            ],
        },
    )


def error_to_dict(error: MigtoolError, exit_code: int) -> dict[str, Any]:
    return _wrap(
        "error",
        {
            "error": {
                "type": type(error).__name__,
                "message": error.message,
                "hint": error.hint,
                "exit_code": exit_code,
                "details": error.details,
            }
        },
    )
