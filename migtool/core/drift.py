"""Drift: migrations changed on disk after a release froze them.

A module of its own because two roles use it: ``doctor`` reports drift over
every release, and ``rollback`` refuses a plan whose steps drifted (their
revert would run code that never ran forwards).  Edits inside installed
distributions are judged apart (``upstream-edited``, see ``migtool.core.origins``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from migtool.core.findings import ERROR, INFO, WARNING, Finding
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.origins import IGNORE, Distribution, Ownership
from migtool.core.planner import is_member
from migtool.core.snapshot import ReleaseSnapshot, release_sort_key


def drift(
    graph: ProjectGraph,
    releases: Sequence[ReleaseSnapshot],
    subjects: Collection[MigrationKey] | None = None,
    ownership: Ownership | None = None,
) -> list[Finding]:
    """Migrations edited, deleted, renamed or moved after a release named them;
    only those in ``subjects`` when given (a plan's steps).

    An edit of an installed distribution's migration is ``upstream-edited``
    (see ``migtool.core.origins``); ``ownership.policy`` may set the severity of
    an app's findings or leave them out.
    """
    ownership = ownership or Ownership()
    by_checksum: dict[str, list[MigrationKey]] = {}
    for key, on_disk in graph.nodes.items():
        if on_disk.checksum:
            by_checksum.setdefault(on_disk.checksum, []).append(key)
    replaced_anywhere = {r for replaced in graph.replaces.values() for r in replaced}
    wanted: dict[str, set[str]] = {}
    for subject in subjects or ():
        wanted.setdefault(subject.app_label, set()).add(subject.name)
    members = {release.release: release.keys() for release in releases}
    findings = []
    for release in releases:
        for app, snap in release.apps.items():
            policy = ownership.policy_for(app)
            if policy == IGNORE:
                continue
            names = snap.migrations if subjects is None else [n for n in snap.migrations if n in wanted.get(app, ())]
            for name in names:
                key = MigrationKey(app, name)
                frozen = snap.checksums.get(name)
                node = graph.nodes.get(key)
                found = None
                if node is not None:
                    if not (frozen and node.checksum and frozen != node.checksum):
                        continue
                    upstream = ownership.upstream(app)
                    if upstream is not None:
                        reverting = [r for r, keys in members.items() if not is_member(graph, keys, key)]
                        found = _upstream_edit(key, release.release, snap.distribution, upstream, reverting)
                    else:
                        found = _drift(ERROR, "drift-edited", key, release.release, "was edited after it was frozen")
                elif elsewhere := [k for k in by_checksum.get(frozen or "", []) if k != key]:
                    what = "moved to another app" if elsewhere[0].app_label != app else "renamed"
                    found = _drift(
                        ERROR, "drift-renamed", key, release.release, f"was {what}: it is now {elsewhere[0]}"
                    )
                elif key not in replaced_anywhere:
                    found = _drift(
                        WARNING, "drift-deleted", key, release.release, "was deleted, and no squash replaces it"
                    )
                if found is not None:
                    findings.append(replace(found, severity=policy) if policy in (WARNING, INFO) else found)
    return findings


def _upstream_edit(
    key: MigrationKey, release: str, frozen: Distribution | None, now: Distribution, reverting: Sequence[str]
) -> Finding:
    """An installed distribution changed one of its own migrations after ``release`` froze it.

    It matters where a rollback would run the changed code: reverting the
    migration, which a rollback to a known release that does not contain it
    (``reverting``) does.  Otherwise no known rollback runs it.
    """
    was = f" ({frozen})" if frozen is not None and frozen != now else ""
    if reverting:
        severity = WARNING
        why = (
            f"A rollback to {', '.join(sorted(reverting, key=release_sort_key))} would revert it with {now}'s "
            "code, which never ran forwards on databases that applied the frozen version."
        )
    else:
        severity = INFO
        why = "Every known release contains it, so no rollback to one reverts it with the changed code."
    return Finding(
        severity,
        "upstream-edited",
        str(key),
        f"{key}, frozen in release {release}{was}, was changed by the installed {now}.",
        why,
        f"Nothing to restore: the file belongs to {now.name}; read its release notes for the change. Once "
        f"reviewed, settings.MIGTOOL_DRIFT = {{{key.app_label!r}: 'info'}} (or 'ignore') keeps it quiet.",
    )


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
