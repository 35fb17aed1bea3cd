"""The migration graph as a drawing model, before any drawing syntax.

Why it exists: ``migtool graph`` draws one picture three ways (a Rich tree,
Mermaid, DOT) and ``diff --format mermaid`` draws what changed between two
releases.  What to show is decided once, here: which apps, which migrations
collapse into one linear run, where release boundaries fall, which steps are
merges, squashes or irreversible, and the rollback plan's order.  Renderers only
spell the result.  Pure and deterministic: the same graph gives the same
drawing, byte for byte, which is what makes the renderers golden-file testable.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

from migtool.core.doctor import MigrationFacts
from migtool.core.graph import DependencyGraph, MigrationKey, ProjectGraph
from migtool.core.planner import RollbackPlan, is_member
from migtool.core.release_diff import ReleaseDiff
from migtool.core.snapshot import ReleaseSnapshot, release_sort_key
from migtool.errors import InputError

# Linear runs shorter than this stay as separate boxes: collapsing two lines
# into one saves little and hides a name.
MIN_RUN = 3


@dataclass(frozen=True)
class Box:
    """One node of the drawing: a migration, or a collapsed linear run of them.

    A run only ever holds plain migrations of one app and one release, each
    the only child of the one before: nothing a reader must see is hidden in it.
    A box with ``up_to`` set is an app's whole history up to that release
    (merges and squashes included), drawn as one box because nothing in it
    changes in the picture.
    """

    id: str
    app: str
    names: tuple[str, ...]
    release: str | None = None
    merge: bool = False
    replaces: tuple[MigrationKey, ...] = ()
    irreversible: tuple[str, ...] = ()
    plan: tuple[int, ...] = ()
    change: str | None = None
    up_to: str | None = None

    @property
    def label(self) -> str:
        if len(self.names) == 1:
            return self.names[0]
        return f"{self.names[0]} ... {self.names[-1]} ({len(self.names)} migrations)"


@dataclass(frozen=True)
class Link:
    """A dependency edge: ``child`` depends on ``parent`` (box ids)."""

    parent: str
    child: str

    @property
    def cross_app(self) -> bool:
        return self.parent.split(".", 1)[0] != self.child.split(".", 1)[0]


@dataclass(frozen=True)
class Drawing:
    """Everything a renderer draws.

    ``boxes`` are grouped by app (sorted), parents before children within an
    app.  ``releases`` are oldest first.  ``plan`` is the rollback plan in
    execution order (box ``plan`` fields hold the 1-based positions).
    ``hidden_apps`` were left out to keep the picture readable.
    ``by_release`` groups each app's boxes by release (a diff has no such groups).
    """

    title: str
    apps: tuple[str, ...]
    boxes: tuple[Box, ...]
    links: tuple[Link, ...]
    releases: tuple[str, ...] = ()
    target: str | None = None
    plan: tuple[MigrationKey, ...] = ()
    hidden_apps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    by_release: bool = True

    def boxes_of(self, app: str) -> tuple[Box, ...]:
        return tuple(b for b in self.boxes if b.app == app)


def draw_graph(
    graph: ProjectGraph,
    effective: DependencyGraph,
    releases: Sequence[ReleaseSnapshot],
    facts: Mapping[MigrationKey, MigrationFacts],
    *,
    plan: RollbackPlan | None = None,
    apps: Collection[str] | None = None,
    history: bool = False,
) -> Drawing:
    """Return the drawing of ``effective`` (the graph Django plans with).

    Each migration is placed in the oldest release (version order) that holds
    it, or in none when it is only on disk.  Squashes in effect stand for their
    originals; a plan step over an original is shown on its squash.

    What changes is drawn after a *baseline* release: the plan's release; else
    the newest release when migrations exist in none; else the release before
    the newest.  Each app's migrations up to the baseline are one box (unless
    ``history``), and only the apps with migrations after it are shown (unless
    ``apps`` names them), or every app when none has.
    """
    ordered = sorted(releases, key=lambda r: release_sort_key(r.release))
    members = [(r.release, r.keys()) for r in ordered]
    release_of = {
        key: next((name for name, keys in members if is_member(graph, keys, key)), None) for key in effective.parents
    }
    hidden_by = {
        original: squash
        for squash in effective.parents
        if squash in graph.replaces
        for original in graph.replaced_on_disk(squash)
    }
    positions: dict[MigrationKey, list[int]] = {}
    for index, step in enumerate(plan.steps if plan else (), 1):
        positions.setdefault(step if step in effective.parents else hidden_by.get(step, step), []).append(index)

    names = [name for name, _ in members]
    baseline = _baseline(names, plan, release_of)
    rank = {name: i for i, name in enumerate(names)}

    def changes(key: MigrationKey) -> bool:
        release = release_of[key]
        if baseline is None or release is None or key in positions:
            return True
        return rank[release] > rank.get(baseline, -1)

    def earlier(key: MigrationKey) -> bool:
        return not history and not changes(key)

    shown = _shown_apps(graph, apps, [k for k in effective.parents if changes(k)])
    keys = [k for k in effective.order if k.app_label in shown]

    def box(run: Sequence[MigrationKey]) -> Box:
        first = run[0]
        if earlier(first) and len(run) > 1:
            return Box(_box_id(run), first.app_label, tuple(k.name for k in run), release=baseline, up_to=baseline)
        parents = effective.parents[first]
        return Box(
            id=_box_id(run),
            app=first.app_label,
            names=tuple(k.name for k in run),
            release=release_of[first],
            merge=sum(p.app_label == first.app_label for p in parents) > 1,
            replaces=graph.replaces.get(first, ()),
            irreversible=facts.get(first, MigrationFacts()).irreversible,
            plan=tuple(positions.get(first, ())),
        )

    def plain(key: MigrationKey) -> bool:
        single = box([key])
        return not (single.merge or single.replaces or single.irreversible or single.plan)

    boxes, links = _collapse(keys, effective.parents, plain, lambda k: (k.app_label, release_of[k]), box, earlier)
    notes: tuple[str, ...] = ()
    if plan:
        blocked = [k for k in plan.steps if facts.get(k, MigrationFacts()).irreversible]
        notes = (
            *plan.warnings,
            *(r.message for r in plan.refusals),
            *(f"Refused as planned: {k} is irreversible ({facts[k].irreversible[0]})." for k in blocked),
        )
    title = f"Rollback to {plan.release}: {len(plan.steps)} step(s)" if plan else "Migration graph"
    return Drawing(
        title=title,
        apps=tuple(sorted(shown)),
        boxes=boxes,
        links=links,
        releases=tuple(name for name, _ in members),
        target=plan.release if plan else None,
        plan=plan.steps if plan else (),
        hidden_apps=tuple(a for a in graph.apps if a not in shown),
        notes=notes,
    )


def _baseline(
    names: Sequence[str], plan: RollbackPlan | None, release_of: Mapping[MigrationKey, str | None]
) -> str | None:
    """The release after which the picture shows what changes (see ``draw_graph``)."""
    if plan is not None:
        return plan.release
    if None in release_of.values():
        return names[-1] if names else None
    return names[-2] if len(names) > 1 else None


def _shown_apps(
    graph: ProjectGraph, apps: Collection[str] | None, changing: Collection[MigrationKey]
) -> frozenset[str]:
    if apps:
        unknown = sorted(set(apps) - set(graph.apps))
        if unknown:
            raise InputError(
                f"No migrations on disk for app(s) {', '.join(unknown)}.",
                hint=f"Apps with migrations: {', '.join(graph.apps)}.",
                apps=unknown,
            )
        return frozenset(apps)
    return frozenset(k.app_label for k in changing) or frozenset(graph.apps)


def draw_diff(changes: ReleaseDiff, effective: DependencyGraph | None = None) -> Drawing:
    """Return the drawing of what changed from ``changes.old`` to ``changes.new``:
    only the added, removed and edited migrations, per app (a squash that only
    re-spells migrations ``old`` had is no change, and is not drawn).

    Edges come from ``effective`` (the code on disk) where it holds both ends;
    without it the boxes of an app are listed by name, unconnected.
    """
    change_of = {
        MigrationKey(a.app, name): kind
        for a in changes.apps
        for kind, names in (("added", a.added), ("removed", a.removed), ("edited", a.edited))
        for name in names
    }
    parents = effective.parents if effective is not None else {}
    order = {k: i for i, k in enumerate(effective.order)} if effective is not None else {}
    keys = sorted(change_of, key=lambda k: (k.app_label, order.get(k, len(order)), k.name))

    def box(run: Sequence[MigrationKey]) -> Box:
        first = run[0]
        return Box(_box_id(run), first.app_label, tuple(k.name for k in run), change=change_of[first])

    changed_parents = {k: parents.get(k, ()) for k in keys}
    boxes, links = _collapse(keys, changed_parents, lambda k: k in parents, lambda k: (k.app_label, change_of[k]), box)
    return Drawing(
        title=f"Changes from {changes.old} to {changes.new}",
        apps=tuple(a.app for a in changes.apps),
        boxes=boxes,
        links=links,
        releases=(changes.old, changes.new),
        by_release=False,
        notes=tuple(
            f"Release {r} is a legacy file without checksums: edits cannot be seen." for r in changes.unverified
        ),
    )


def _box_id(run: Sequence[MigrationKey]) -> str:
    return str(run[0]) if len(run) == 1 else f"{run[0]}..{run[-1].name}"


def _collapse(
    keys: Sequence[MigrationKey],
    parents: Mapping[MigrationKey, tuple[MigrationKey, ...]],
    plain: Callable[[MigrationKey], bool],
    style: Callable[[MigrationKey], Hashable],
    make_box: Callable[[Sequence[MigrationKey]], Box],
    together: Callable[[MigrationKey], bool] = lambda key: False,
) -> tuple[tuple[Box, ...], tuple[Link, ...]]:
    """Group ``keys`` (parents first) into boxes, collapsing linear runs.

    The keys for which ``together`` holds form one box per app, whatever
    their shape (they must be closed under the app's ancestors).  A run
    extends from a plain migration to its only child when that child is plain,
    has the same style (app and release, or app and change) and no other
    parent among ``keys``.  Runs shorter than ``MIN_RUN`` stay separate.
    Returns the boxes, by app then in ``keys`` order, and the links between them.
    """
    wanted = frozenset(keys)
    parents_in = {k: tuple(p for p in parents.get(k, ()) if p in wanted) for k in keys}
    children: dict[MigrationKey, list[MigrationKey]] = {k: [] for k in keys}
    for key in keys:
        for parent in parents_in[key]:
            children[parent].append(key)

    runs: list[list[MigrationKey]] = []
    for app in sorted({k.app_label for k in keys}):
        group = [k for k in keys if k.app_label == app and together(k)]
        if group:
            runs.append(group)
    taken: set[MigrationKey] = {k for run in runs for k in run}
    for key in keys:
        if key in taken:
            continue
        run = [key]
        while plain(run[-1]) and len(children[run[-1]]) == 1:
            child = children[run[-1]][0]
            if child in taken or not plain(child) or parents_in[child] != (run[-1],) or style(child) != style(key):
                break
            run.append(child)
        if len(run) < MIN_RUN:
            run = run[:1]
        taken.update(run)
        runs.append(run)

    box_of: dict[MigrationKey, str] = {}
    boxes: list[Box] = []
    for run in runs:
        made = make_box(run)
        boxes.append(made)
        for key in run:
            box_of[key] = made.id
    links = sorted(
        {Link(box_of[p], box_of[k]) for k in keys for p in parents_in[k] if box_of[p] != box_of[k]},
        key=lambda link: (link.parent, link.child),
    )
    position = {k: i for i, k in enumerate(keys)}
    first_of = {box_of[run[0]]: run[0] for run in runs}
    boxes.sort(key=lambda b: (b.app, position[first_of[b.id]]))
    return tuple(boxes), tuple(links)
