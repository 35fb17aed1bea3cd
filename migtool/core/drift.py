"""Drift: migrations changed on disk after a release froze them.

A module of its own because two roles use it: ``doctor`` reports drift over
every release, and ``rollback`` refuses a plan whose steps drifted (their
revert would run code that never ran forwards).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from migtool.core.findings import ERROR, WARNING, Finding
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.snapshot import ReleaseSnapshot


def drift(
    graph: ProjectGraph, releases: Sequence[ReleaseSnapshot], subjects: Collection[MigrationKey] | None = None
) -> list[Finding]:
    """Migrations edited, deleted, renamed or moved after a release named them;
    only those in ``subjects`` when given (a plan's steps)."""
    by_checksum: dict[str, list[MigrationKey]] = {}
    for key, on_disk in graph.nodes.items():
        if on_disk.checksum:
            by_checksum.setdefault(on_disk.checksum, []).append(key)
    replaced_anywhere = {r for replaced in graph.replaces.values() for r in replaced}
    wanted: dict[str, set[str]] = {}
    for subject in subjects or ():
        wanted.setdefault(subject.app_label, set()).add(subject.name)
    findings = []
    for release in releases:
        for app, snap in release.apps.items():
            names = snap.migrations if subjects is None else [n for n in snap.migrations if n in wanted.get(app, ())]
            for name in names:
                key = MigrationKey(app, name)
                frozen = snap.checksums.get(name)
                node = graph.nodes.get(key)
                if node is not None:
                    if frozen and node.checksum and frozen != node.checksum:
                        findings.append(
                            _drift(ERROR, "drift-edited", key, release.release, "was edited after it was frozen")
                        )
                    continue
                elsewhere = [k for k in by_checksum.get(frozen or "", []) if k != key]
                if elsewhere:
                    what = "moved to another app" if elsewhere[0].app_label != app else "renamed"
                    findings.append(
                        _drift(ERROR, "drift-renamed", key, release.release, f"was {what}: it is now {elsewhere[0]}")
                    )
                elif key not in replaced_anywhere:
                    findings.append(
                        _drift(WARNING, "drift-deleted", key, release.release, "was deleted, and no squash replaces it")
                    )
    return findings


def _drift(severity: str, code: str, key: MigrationKey, release: str, what: str) -> Finding:
    return Finding(
        severity,
        code,
        str(key),
        f"{key}, frozen in release {release}, {what}.",
        "Databases that applied the frozen version differ from what the code would now apply or revert; a "
        "rollback would run code that never ran forwards.",
        "Restore the migration as it was frozen (version control), or re-freeze the release if it never shipped.",
    )
