"""Findings about states Django accepts silently but that break a deploy or a rollback.

Every check is a pure function of values the adapter gathers (the graph, the
release snapshots, the recorded rows, facts about each migration, journal
runs) and returns ``Finding``s; ``diagnose`` runs them all.  The
findings are sorted (severity, code, subject) so the report is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from migtool.core.drift import drift
from migtool.core.findings import ERROR, INFO, SEVERITY_ORDER, WARNING, Finding
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.origins import Ownership
from migtool.core.planner import is_member
from migtool.core.snapshot import ReleaseSnapshot, release_sort_key


@dataclass(frozen=True)
class MigrationFacts:
    """What the adapter learned from a migration's operations."""

    irreversible: tuple[str, ...] = ()
    non_atomic: bool = False
    needs_no_transaction: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunFact:
    """A journaled run: its id, command, final status and start time."""

    run_id: int
    command: str
    status: str
    started: str


def diagnose(
    graph: ProjectGraph,
    releases: Sequence[ReleaseSnapshot],
    facts: Mapping[MigrationKey, MigrationFacts],
    recorded: Mapping[MigrationKey, int] | None = None,
    runs: Iterable[RunFact] = (),
    unreadable: Mapping[str, str] | None = None,
    ownership: Ownership | None = None,
) -> list[Finding]:
    """Return every finding, most severe first.  ``recorded`` is None without a database;
    ``unreadable`` maps release files that could not be read to the problem; ``ownership``
    says which apps are installed distributions' and how to judge their drift."""
    findings = [
        *unreadable_releases(unreadable or {}),
        *conflicting_leaves(graph),
        *suspicious_replaces(graph),
        *partial_squashes_on_disk(graph),
        *migration_facts(facts),
        *irreversible_since_releases(graph, releases, facts),
        *drift(graph, releases, ownership=ownership),
        *unreachable_releases(graph, releases),
    ]
    if recorded is not None:
        findings += [
            *recorded_state(graph, recorded),
            *interrupted_runs(runs),
        ]
    return ordered(findings)


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by check and subject: the order every report uses."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.subject))


def conflicting_leaves(graph: ProjectGraph) -> list[Finding]:
    return [
        Finding(
            ERROR,
            "conflicting-leaves",
            app,
            f"App {app!r} has {len(leaves)} leaf migrations: {', '.join(k.name for k in leaves)}.",
            "Django refuses to migrate, and no release can be frozen, until they are merged.",
            f"python manage.py makemigrations --merge {app}",
        )
        for app, leaves in graph.effective().leaves().items()
        if len(leaves) > 1
    ]


def suspicious_replaces(graph: ProjectGraph) -> list[Finding]:
    """``replaces`` naming migrations not on disk, and keys replaced by several migrations."""
    findings = []
    for squash, replaced in sorted(graph.replaces.items()):
        missing = [r for r in replaced if r not in graph]
        if missing and len(missing) < len(replaced):
            continue  # partly present: reported by partial_squashes_on_disk
        if missing:
            findings.append(
                Finding(
                    WARNING,
                    "replaces-missing",
                    str(squash),
                    f"{squash} replaces {', '.join(map(str, missing))}, which exist on no disk here.",
                    "Legal (a squash whose originals were deleted, or the patch-branch trick), but on a database "
                    "where its ancestors are unapplied, migrate treats it as applied and later fails with "
                    "InconsistentMigrationHistory.",
                    "Make sure every database that recorded the replaced names has this migration's ancestors "
                    "applied (and the squash row); for a patch-branch placeholder, apply the same rule.",
                )
            )
    owners = Counter(r for replaced in graph.replaces.values() for r in replaced)
    for key, count in sorted(owners.items()):
        if count > 1:
            by = sorted(str(s) for s, replaced in graph.replaces.items() if key in replaced)
            findings.append(
                Finding(
                    ERROR,
                    "replaced-twice",
                    str(key),
                    f"{key} is replaced by {count} migrations: {', '.join(by)}.",
                    "Each records a row for it, so django_migrations gets duplicates; unapplying one deletes "
                    "all of them and silently un-applies the other.",
                    "Let only one migration replace it.",
                )
            )
    return findings


def partial_squashes_on_disk(graph: ProjectGraph) -> list[Finding]:
    findings = []
    for squash, replaced in sorted(graph.replaces.items()):
        present = [r for r in replaced if r in graph]
        if present and len(present) < len(replaced):
            absent = [str(r) for r in replaced if r not in graph]
            findings.append(
                Finding(
                    WARNING,
                    "squash-partly-on-disk",
                    str(squash),
                    f"Squash {squash} has {len(present)} of its {len(replaced)} replaced migrations on disk "
                    f"(missing: {', '.join(absent)}).",
                    "A database that recorded only some originals can no longer be migrated or rolled back "
                    "through them.",
                    "Keep all of the replaced files until every database has the squash, then delete them all "
                    "and the replaces attribute together.",
                )
            )
    return findings


def migration_facts(facts: Mapping[MigrationKey, MigrationFacts]) -> list[Finding]:
    findings = []
    for key, fact in sorted(facts.items()):
        if fact.non_atomic:
            findings.append(
                Finding(
                    INFO,
                    "non-atomic",
                    str(key),
                    f"{key} is not atomic.",
                    "If it fails half-way its completed statements stay, and a batch containing it cannot be "
                    "one transaction.",
                    "Keep non-atomic migrations small and alone in their deploy.",
                )
            )
        for reason in fact.needs_no_transaction:
            findings.append(
                Finding(
                    WARNING,
                    "no-transaction",
                    str(key),
                    f"{key} cannot run inside a transaction: {reason}.",
                    "migrate-safe and rollback must run it step by step, so a failure after it cannot be "
                    "undone by a transaction rollback.",
                    "Set atomic = False on the migration and deploy it on its own.",
                )
            )
    return findings


def irreversible_since_releases(
    graph: ProjectGraph, releases: Sequence[ReleaseSnapshot], facts: Mapping[MigrationKey, MigrationFacts]
) -> list[Finding]:
    """For each release boundary, the irreversible migrations that make a rollback past it impossible."""
    ordered = sorted(releases, key=lambda r: release_sort_key(r.release))
    findings = []
    for index, release in enumerate(ordered):
        newer = ordered[index + 1].release if index + 1 < len(ordered) else "the code on disk"
        members, replaced = release.keys(), release.replaces()
        later = ordered[index + 1].keys() if index + 1 < len(ordered) else frozenset(graph.nodes)
        blocking = sorted(
            k
            for k in later
            if k.app_label not in release.not_frozen  # rollback to it leaves those apps alone
            and not is_member(graph, members, k, replaced)
            and facts.get(k, MigrationFacts()).irreversible
        )
        for key in blocking:
            findings.append(
                Finding(
                    WARNING if newer == "the code on disk" else INFO,
                    "irreversible-after-release",
                    str(key),
                    f"{key} ({facts[key].irreversible[0]}) lies between release {release.release} and {newer}.",
                    f"A rollback from {newer} to {release.release} (or earlier) is impossible.",
                    "Give it a reverse (reverse_code / reverse_sql, RunPython.noop if nothing needs undoing).",
                )
            )
    return findings


def unreadable_releases(unreadable: Mapping[str, str]) -> list[Finding]:
    """Release files that cannot be read: every other check skipped them."""
    return [
        Finding(
            ERROR,
            "release-unreadable",
            name,
            problem,
            f"A rollback or migrate-safe to release {name} is refused, and no check above covered it.",
            f"Restore releases/{name}.json from version control, or re-create it with "
            f"'migtool freeze --release {name} --force' on the release's commit.",
        )
        for name, problem in sorted(unreadable.items())
    ]


def unreachable_releases(graph: ProjectGraph, releases: Sequence[ReleaseSnapshot]) -> list[Finding]:
    """Releases that lie inside a squash whose originals are gone: no rollback can
    reach them with this code.  The finding names the releases that stay reachable."""
    inside: dict[str, tuple[MigrationKey, list[MigrationKey]]] = {}
    for release in releases:
        members = release.keys()
        for squash in sorted(graph.replaces):
            atoms = graph.atoms([squash])
            gone = sorted(a for a in atoms - members if a not in graph)
            if atoms & members and gone and not is_member(graph, members, squash, release.replaces()):
                inside[release.release] = (squash, gone)
                break
    reachable = sorted((r.release for r in releases if r.release not in inside), key=release_sort_key)
    return [
        Finding(
            WARNING,
            "release-unreachable",
            name,
            f"Release {name} lies inside squash {squash}, whose replaced migrations "
            f"{', '.join(map(str, gone))} are no longer on disk. "
            f"Releases that can still be rolled back to: {', '.join(reachable) or 'none'}.",
            "A rollback to this release is refused.",
            "Restore the squash's replaced migrations, or roll back only to the reachable releases.",
        )
        for name, (squash, gone) in sorted(inside.items())
    ]


def recorded_state(graph: ProjectGraph, recorded: Mapping[MigrationKey, int]) -> list[Finding]:
    """Ghost and duplicate rows, inconsistent history and partly applied squashes."""
    rows = frozenset(recorded)
    findings = []
    named = {r for replaced in graph.replaces.values() for r in replaced}
    for key in sorted(k for k in rows if k not in graph and k not in named):
        findings.append(
            Finding(
                WARNING,
                "ghost-row",
                str(key),
                f"django_migrations records {key}, which is not on disk.",
                "Django ignores it, but it hides what really ran; a re-added migration of that name would "
                "be taken as applied.",
                f"python manage.py migrate --prune {key.app_label} (after checking the migration is really gone)",
            )
        )
    for key, count in sorted(recorded.items()):
        if count > 1:
            findings.append(
                Finding(
                    WARNING,
                    "duplicate-rows",
                    str(key),
                    f"django_migrations records {key} {count} times.",
                    "Unapplying it deletes every copy; shared replaced names then look un-applied.",
                    "Delete the extra rows, keeping one.",
                )
            )
    applied = graph.applied(rows)
    effective = graph.effective(rows)
    for key in sorted(applied):
        for parent in effective.parents.get(key, ()):
            if parent not in applied:
                findings.append(
                    Finding(
                        ERROR,
                        "inconsistent-history",
                        str(key),
                        f"{key} is applied but its dependency {parent} is not.",
                        "migrate refuses to run (InconsistentMigrationHistory) and rollback plans are unsafe.",
                        f"Apply {parent} (with --fake if its changes are already in the schema) or unapply {key}.",
                    )
                )
    for squash in sorted(graph.replaces):
        atoms = graph.atoms([squash])
        done = atoms & rows
        if done and done != atoms:
            findings.append(
                Finding(
                    WARNING,
                    "squash-partly-applied",
                    str(squash),
                    f"{len(done)} of the {len(atoms)} migrations squashed into {squash} are applied.",
                    "Django uses the originals here; deleting them from disk would strand this database.",
                    "Migrate this database forward through the originals before removing them.",
                )
            )
    return findings


def interrupted_runs(runs: Iterable[RunFact]) -> list[Finding]:
    """Runs that ended badly and that no later successful run has followed."""
    runs = list(runs)
    settled = max((r.run_id for r in runs if r.status == "succeeded"), default=0)
    return [
        Finding(
            WARNING,
            "interrupted-run",
            f"run {run.run_id}",
            f"migtool run {run.run_id} ({run.command}, started {run.started}) {run.status}"
            + (" without restoring the database." if run.status == "failed" else "."),
            "It may have left the database between two states; step-by-step runs can leave a migration half-applied.",
            f"Check 'migtool history {run.run_id}' and 'migtool status', then finish with migrate-safe or rollback.",
        )
        for run in runs
        if run.status in ("interrupted", "failed") and run.run_id > settled
    ]
