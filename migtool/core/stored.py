"""Which stored migration sources may join the graph, and what the store says about a database.

When the code was downgraded before the rollback, the database still records
migrations whose files are gone.  migtool keeps every applied migration's
source in the database (``django_adapter.stored_sources``) and loads the
stored text of such "ghost" migrations as graph nodes
(``django_adapter.stored_loader``), so a rollback from the older code plans
and runs exactly as it would from the newer code.

This module holds the decisions, as pure functions of plain values:

* ``ghosts``: the recorded rows no file on disk accounts for;
* ``classify``: which loaded stored migrations may be injected, and every
  reason why some may not (a squash whose replaced migrations are all on disk,
  a dependency that exists nowhere), plus the ghosts nothing can load;
* ``stored_drift`` and ``uncaptured``: doctor findings.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from migtool.core.doctor import ERROR, WARNING, Finding
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.planner import Refusal

# Django resolves these dependency names against the graph (``MigrationLoader.check_key``).
SPECIAL_NAMES = frozenset({"__first__", "__latest__"})


@dataclass(frozen=True)
class StoredMigration:
    """What a stored migration declares once its source is loaded.

    ``dependencies`` and ``run_before`` are as written (``__first__`` and
    ``__latest__`` unresolved): ``run_before`` makes the named migration
    depend on this one, so it must exist too.
    """

    key: MigrationKey
    dependencies: tuple[MigrationKey, ...] = ()
    replaces: tuple[MigrationKey, ...] = ()
    run_before: tuple[MigrationKey, ...] = ()


@dataclass(frozen=True)
class Classification:
    """The outcome of ``classify``.

    ``inject`` are the stored migrations that become graph nodes; ``refusals``
    say, per stored migration that cannot, why; ``missing`` are ghosts that
    have no stored source (nothing can unapply them from this code).
    """

    inject: frozenset[MigrationKey]
    refusals: tuple[Refusal, ...]
    missing: frozenset[MigrationKey]


def ghosts(
    disk: Mapping[MigrationKey, tuple[MigrationKey, ...]], recorded: Iterable[MigrationKey]
) -> frozenset[MigrationKey]:
    """Return the recorded rows that are neither on disk nor replaced by a squash on disk.

    ``disk`` maps every migration on disk to its ``replaces``.  These are
    ``status``'s ghost rows, and the migrations only a stored source can
    bring back.
    """
    named = {r for replaced in disk.values() for r in replaced}
    return frozenset(k for k in recorded if k not in disk and k not in named)


def classify(
    disk: Mapping[MigrationKey, tuple[MigrationKey, ...]],
    unmigrated_apps: Collection[str],
    recorded: Iterable[MigrationKey],
    loaded: Mapping[MigrationKey, StoredMigration],
    broken: Mapping[MigrationKey, str],
) -> Classification:
    """Decide which of the ``loaded`` stored migrations join the graph.

    ``broken`` maps the stored migrations whose source did not load to the
    error.  Refused:

    * a stored squash whose replaced migrations are all on disk: injected, it
      would stand for them, and unapplying it would revert them all (the row
      only says the originals are applied);
    * a stored migration that depends on (or runs before) a migration that is
      neither on disk nor injected, directly or through another refused one:
      Django could not build the graph.
    """
    refusals = [
        Refusal(
            "stored-source-broken",
            f"{key} is applied and not on disk, and its stored source does not load with today's code: {error}.",
            (key,),
        )
        for key, error in sorted(broken.items())
    ]
    candidates = dict(loaded)
    for key, stored in sorted(loaded.items()):
        if stored.replaces and all(r in disk for r in stored.replaces):
            del candidates[key]
            refusals.append(
                Refusal(
                    "stored-squash-on-disk",
                    f"{key} is a stored squash, and every migration it replaces is on disk "
                    f"({', '.join(map(str, stored.replaces))}): loaded, it would stand for them and a rollback "
                    "would revert them all, so it is not loaded. Roll back from the code that has it, or, once "
                    "you have checked its replaced migrations are what the database applied, delete its "
                    "django_migrations row.",
                    (key,),
                )
            )
    migrated_apps = {k.app_label for k in disk}
    changed = True
    while changed:
        changed = False
        known = disk.keys() | candidates.keys()
        apps = migrated_apps | {k.app_label for k in candidates}
        for key, stored in sorted(candidates.items()):
            absent = [
                k
                for k in (*stored.dependencies, *stored.run_before)
                if k not in known
                and k.app_label not in unmigrated_apps
                and not (k.name in SPECIAL_NAMES and k.app_label in apps)
            ]
            if absent:
                del candidates[key]
                changed = True
                refusals.append(
                    Refusal(
                        "stored-source-unplaceable",
                        f"{key} is applied and its source is stored, but it depends on "
                        f"{', '.join(map(str, absent))}, which is neither on disk nor loadable from a stored source.",
                        (key, *absent),
                    )
                )
                break
    covered = {r for k in candidates for r in loaded[k].replaces}
    missing = ghosts(disk, recorded) - loaded.keys() - broken.keys() - covered
    return Classification(frozenset(candidates), tuple(refusals), missing)


def missing_refusal(missing: Iterable[MigrationKey]) -> Refusal | None:
    """The refusal for ghosts a rollback would have to unapply but cannot load."""
    keys = tuple(sorted(missing))
    if not keys:
        return None
    return Refusal(
        "ghost-without-source",
        f"{', '.join(map(str, keys))} {'is' if len(keys) == 1 else 'are'} applied but neither on disk nor stored "
        "in the database (ghost rows), so this code cannot unapply "
        f"{'it' if len(keys) == 1 else 'them'}. Roll back from the code that has "
        f"{'it' if len(keys) == 1 else 'them'}, and capture sources from now on ('migtool capture').",
        keys,
    )


def stored_drift(
    graph: ProjectGraph,
    stored: Mapping[MigrationKey, Collection[str]],
    subjects: Collection[MigrationKey] | None = None,
) -> list[Finding]:
    """Migrations on disk whose file matches none of the sources stored for that name.

    ``stored`` maps keys to the sha256 of every source stored for them.  The
    database applied a stored version; reverting the file's version would run
    code that never ran forwards (the same risk as ``drift-edited``).
    """
    findings = []
    for key in sorted(stored if subjects is None else set(subjects) & stored.keys()):
        node = graph.nodes.get(key)
        if node is None or node.checksum is None or node.checksum in stored[key]:
            continue
        findings.append(
            Finding(
                ERROR,
                "drift-edited",
                str(key),
                f"{key} on disk differs from the source stored when the database applied it "
                f"(sha256 {node.checksum[:12]} on disk, stored {', '.join(sorted(s[:12] for s in stored[key]))}).",
                "The database applied the stored version; a rollback would run code that never ran forwards.",
                "Restore the migration as it was applied (version control), or pass --allow-drift to a rollback "
                "after checking its reverse is the same.",
            )
        )
    return findings


def recorded_nodes(graph: ProjectGraph, recorded: frozenset[MigrationKey]) -> frozenset[MigrationKey]:
    """The migrations of ``graph`` a database with ``recorded`` rows has applied, in both
    spellings of each squash (a squash counts once everything it replaces is recorded)."""
    return frozenset(k for k in graph.nodes if k in recorded or (k in graph.replaces and graph.atoms([k]) <= recorded))


def uncaptured(
    graph: ProjectGraph, recorded: frozenset[MigrationKey], stored: Collection[MigrationKey]
) -> list[Finding]:
    """One warning per app with applied migrations whose source is not stored."""
    without = sorted(k for k in recorded_nodes(graph, recorded) if k not in stored)
    findings = []
    for app in sorted({k.app_label for k in without}):
        names = [k.name for k in without if k.app_label == app]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        findings.append(
            Finding(
                WARNING,
                "no-stored-source",
                app,
                f"{len(names)} applied migration(s) of {app!r} have no source stored in the database: {shown}.",
                "Once the code is downgraded, a rollback from the older code would be impossible for them: "
                "their files are gone and nothing else holds them.",
                "migtool capture (or apply migrations with migtool migrate-safe, which stores them)",
            )
        )
    return findings


def refusal_findings(refusals: Iterable[Refusal]) -> list[Finding]:
    """Stored sources a rollback from this code could not use, as doctor findings."""
    return [
        Finding(
            ERROR,
            refusal.kind,
            str(refusal.keys[0]),
            refusal.message,
            "A rollback from this code that has to unapply it is refused.",
            "Roll back from the code that has the migration on disk, or restore what its source imports.",
        )
        for refusal in refusals
    ]
