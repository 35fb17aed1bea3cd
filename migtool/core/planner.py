"""Rollback planning: which applied migrations leave, in which order.

The rule (see django-migrations.md §2.3): unapply exactly the applied
migrations that are not part of the release, compared squash-free ("atoms"),
dependents before their dependencies across all apps.  Unlike
``migrate app X`` this also unapplies the parallel branch behind a merge, and
everything in other apps that depends on it.

Planners report, commands decide: a plan that cannot run carries its
``refusals`` so ``--dry-run`` can still show the whole picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from migtool.core.graph import DependencyGraph, MigrationKey, ProjectGraph, reachable
from migtool.core.snapshot import ReleaseSnapshot


@dataclass(frozen=True)
class Refusal:
    """A reason the plan must not run.  ``kind`` is stable, for scripts and JSON."""

    kind: str
    message: str
    keys: tuple[MigrationKey, ...] = ()


@dataclass(frozen=True)
class RollbackPlan:
    """The backwards plan to a release.

    ``steps`` are in execution order.  ``use_originals`` means a squash must be
    split, so the plan is over the migrations it replaces, and Django's loader
    must be built without replacements (as ``migrate app <replaced>`` does).
    ``stale_rows`` are squash rows that no longer describe the database once
    their originals are unapplied one by one.
    """

    release: str
    steps: tuple[MigrationKey, ...]
    use_originals: bool = False
    refusals: tuple[Refusal, ...] = ()
    warnings: tuple[str, ...] = ()
    stale_rows: tuple[MigrationKey, ...] = ()


def plan_rollback(graph: ProjectGraph, recorded: frozenset[MigrationKey], release: ReleaseSnapshot) -> RollbackPlan:
    """Return the plan that takes a database with ``recorded`` rows back to ``release``.

    Membership is decided by the files the release names: an applied migration
    stays if the release names it, or if it is a squash whose replaced
    migrations the release names (a release frozen before the squash).  A
    migration that merely ``replaces`` a name the release also reaches through
    another migration is not part of it (django-migrations.md §1.8).

    ``release`` must be resolved (``resolve_legacy``).  The plan never applies
    anything: release migrations that are not applied become a refusal.
    """
    members, replaced = release.keys(), release.replaces()
    not_frozen = release.not_frozen

    def in_release(key: MigrationKey) -> bool:
        return key.app_label in not_frozen or is_member(graph, members, key, replaced)

    applied = graph.applied(recorded)
    warnings = tuple(
        f"App {app!r} is in release {release.release} but has no migrations on disk; "
        "migtool leaves whatever it recorded alone."
        for app in sorted({k.app_label for k in members} - set(graph.apps))
    ) + _not_frozen_warnings(release, graph)
    refusals = []
    missing = sorted(
        k
        for k in members
        if k in graph and not (graph.atoms([k]) <= recorded if k in graph.replaces else k in recorded)
    )
    absent = code_not_at_release(graph, recorded, release)
    if absent:
        refusals.append(absent)
    if missing:
        refusals.append(
            Refusal(
                "release-not-applied",
                f"{len(missing)} migration(s) of release {release.release} are not applied on this database "
                f"({_names(missing)}); rollback never applies migrations. "
                f"Use 'migtool migrate-safe --release {release.release}'.",
                tuple(missing),
            )
        )
    split = sorted(s for s in applied if s in graph.replaces and not in_release(s) and graph.atoms([s]) & members)
    unreachable = _unreachable(graph, split, members, release.release)
    if unreachable:
        return RollbackPlan(release.release, (), True, tuple(refusals + unreachable), warnings)
    order, units = _originals_view(graph, recorded) if split else (graph.effective(recorded), applied)
    steps = tuple(reversed(order.replay_order(u for u in units if not in_release(u))))
    kept = units - set(steps)
    refusals.extend(_broken_dependencies(order, steps, kept))
    refusals.extend(_shared_replaces(graph, steps, kept))
    after = recorded - graph.stands_for(steps)
    return RollbackPlan(
        release=release.release,
        steps=steps,
        use_originals=bool(split),
        refusals=tuple(refusals),
        warnings=warnings,
        stale_rows=tuple(sorted(s for s in graph.replaces if s in after and not graph.atoms([s]) <= after)),
    )


def _not_frozen_warnings(release: ReleaseSnapshot, graph: ProjectGraph) -> tuple[str, ...]:
    """Say which apps the plan leaves alone because the release (frozen from git) does not describe them."""
    warnings = []
    external = sorted(set(release.external) & set(graph.apps))
    if external:
        warnings.append(
            f"Release {release.release} was frozen from git and does not describe apps whose migrations live "
            f"outside the repository: {', '.join(external)}; rollback leaves them alone."
        )
    for app, why in sorted(release.unreadable.items()):
        if app in graph.apps:
            warnings.append(
                f"Release {release.release} could not freeze app {app!r} ({why}); rollback leaves it alone."
            )
    return tuple(warnings)


def is_member(
    graph: ProjectGraph,
    members: frozenset[MigrationKey],
    key: MigrationKey,
    replaced: Mapping[MigrationKey, tuple[MigrationKey, ...]] | None = None,
) -> bool:
    """Return whether migration ``key`` belongs to a release with these ``members``:
    named by it, or a squash of migrations it names.

    ``replaced`` are the release's own squashes (``ReleaseSnapshot.replaces``).  A
    squash written later may replace one of them together with the originals it
    had replaced, gone from disk since: those originals count as named too, but
    only for a squash that replaces the release's squash itself.  A squash that
    merely replaces a name the release reaches through another migration is not
    part of it (django-migrations.md §1.8).
    """
    if key in members:
        return True
    if key not in graph.replaces:
        return False
    inherited = reachable(members & graph.stands_for([key]), lambda k: (replaced or {}).get(k, ()))
    return graph.atoms([key]) <= members | inherited


def code_not_at_release(
    graph: ProjectGraph, recorded: frozenset[MigrationKey], release: ReleaseSnapshot
) -> Refusal | None:
    """Refuse a release some of whose members the code does not have: not in the
    graph, named by no squash's ``replaces`` and not recorded.

    The usual way there: the database was rolled back to an older release and the
    older code deployed; then "nothing to do" for the newer release would be a lie.
    A member that is recorded is a ghost row, and one that a squash replaces is
    reached through the squash; both are handled where those cases are.
    """
    replaced = {r for names in graph.replaces.values() for r in names}
    members = release.keys()
    absent = sorted(k for k in members if k not in graph and k not in replaced and k not in recorded)
    if not absent:
        return None
    return Refusal(
        "release-not-on-disk",
        f"The code on disk is not at release {release.release}: {len(absent)} of its migration(s) are "
        f"neither on disk nor applied ({_names(absent)}). Deploy release {release.release}'s code first.",
        tuple(absent),
    )


def plan_forward(
    graph: ProjectGraph, recorded: frozenset[MigrationKey], targets: Iterable[MigrationKey] | None = None
) -> tuple[MigrationKey, ...]:
    """Return the unapplied migrations needed to reach ``targets`` (all leaves when
    None), parents first: what ``manage.py migrate`` would apply, in the effective
    graph for ``recorded``."""
    effective = graph.effective(recorded)
    wanted = effective.ancestors(effective.parents if targets is None else targets)
    return effective.topological_order(wanted - graph.applied(recorded))


def plan_to_release(
    graph: ProjectGraph, recorded: frozenset[MigrationKey], release: ReleaseSnapshot
) -> tuple[tuple[MigrationKey, ...], bool]:
    """Return the unapplied migrations of ``release`` in apply order, and whether
    they must be applied over squashed originals (the release lies inside a
    squash Django would otherwise apply whole)."""
    members, replaced = release.keys(), release.replaces()
    effective = graph.effective(recorded)
    split = any(
        s in graph.replaces and not is_member(graph, members, s, replaced) and graph.atoms([s]) & members
        for s in effective.parents
    )
    if not split:
        wanted = [k for k in effective.parents if is_member(graph, members, k, replaced)]
        return plan_forward(graph, recorded, wanted), False
    order, _ = _originals_view(graph, recorded)
    units = {k for k in graph.nodes if not (k in graph.replaces and graph.replaced_on_disk(k))}
    needed = order.ancestors(k for k in units if is_member(graph, members, k, replaced)) & units
    return order.topological_order(needed - recorded), True


def matches_release(graph: ProjectGraph, recorded: frozenset[MigrationKey], release: ReleaseSnapshot) -> bool:
    """Return whether the database is exactly at ``release``: a rollback to it would
    change nothing and nothing of it is missing."""
    plan = plan_rollback(graph, recorded, release)
    return not plan.steps and not plan.refusals


def _names(keys: Iterable[MigrationKey], limit: int = 8) -> str:
    keys = list(keys)
    shown = ", ".join(map(str, keys[:limit]))
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _unreachable(
    graph: ProjectGraph, split: list[MigrationKey], members: frozenset[MigrationKey], release: str
) -> list[Refusal]:
    """Refuse releases inside an applied squash whose originals are no longer on disk."""
    refusals = []
    for squash in split:
        gone = sorted(a for a in graph.atoms([squash]) - members if a not in graph)
        if gone:
            refusals.append(
                Refusal(
                    "squash-unreachable",
                    f"Release {release} lies inside squash {squash}, but migrations it replaces are no "
                    f"longer on disk ({_names(gone)}). Reachable states: with {squash} fully applied, "
                    "or fully unapplied; restore the replaced files to roll back inside it.",
                    (squash, *gone),
                )
            )
    return refusals


def _originals_view(
    graph: ProjectGraph, recorded: frozenset[MigrationKey]
) -> tuple[DependencyGraph, frozenset[MigrationKey]]:
    """Return the graph and applied units of Django's loader without replacements.

    Every recorded migration stands for itself, except a squash whose originals
    are on disk: it is unapplied through them.  A migration depending on a
    squash depends on all of its originals too, so it is unapplied first.
    """
    parents = {k: set(ps) for k, ps in graph.declared.parents.items()}
    for squash in graph.replaces:
        for child in graph.declared.children[squash]:
            parents[child] |= graph.replaced_on_disk(squash)
    units = frozenset(k for k in recorded if k in graph and not (k in graph.replaces and graph.replaced_on_disk(k)))
    return DependencyGraph({k: tuple(sorted(v)) for k, v in parents.items()}), units


def _shared_replaces(
    graph: ProjectGraph, steps: tuple[MigrationKey, ...], kept: frozenset[MigrationKey]
) -> list[Refusal]:
    """Refuse unapplying a migration that replaces a name a staying migration replaces too.

    Django counts a replacing migration as applied whenever the replaced name
    is recorded (django-migrations.md §1.7-1.8), so "one applied, the other
    not" cannot be written in django_migrations: unapplying one would either
    delete the other's rows or leave the step counted as applied.
    """
    kept_names = {name: unit for unit in sorted(kept) for name in graph.stands_for([unit]) - {unit}}
    refusals = []
    for step in steps:
        for name in sorted(graph.stands_for([step]) - {step}):
            if name in kept_names:
                refusals.append(
                    Refusal(
                        "shared-replaces",
                        f"{step} and {kept_names[name]} both replace {name}: Django counts both as applied while "
                        f"{name} is recorded, so {step} cannot be unapplied while {kept_names[name]} stays applied. "
                        "Let only one migration replace it ('migtool doctor' reports this as replaced-twice).",
                        (step, kept_names[name], name),
                    )
                )
    return refusals


def _broken_dependencies(
    order: DependencyGraph, steps: tuple[MigrationKey, ...], kept: frozenset[MigrationKey]
) -> list[Refusal]:
    """Refuse a plan that would leave an applied migration without a dependency."""
    stranded = sorted(order.descendants(steps) & kept)
    if not stranded:
        return []
    return [
        Refusal(
            "would-break-dependencies",
            f"Migrations that would stay applied depend on migrations the plan unapplies ({_names(stranded)}); "
            "the release does not describe a consistent state of this code.",
            tuple(stranded),
        )
    ]


def fully_migrated_rows(graph: ProjectGraph) -> frozenset[MigrationKey]:
    """Return the ``django_migrations`` rows of a database that ``migrate`` brought from
    nothing to every leaf on disk: each migration of the effective graph and every name
    a squash in it stands for.  A database recording at least these rows has nothing
    to migrate, whatever else it records (the squashes stay in effect)."""
    return graph.stands_for(graph.effective().parents)
