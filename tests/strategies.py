"""Hand-built graphs and Hypothesis strategies for the pure core tests.

Keys are written ``"app.name"`` everywhere, so a test reads like the graph it
describes::

    graph({"s.0002_b": ["s.0001_a"], "o.0001_x": ["s.0001_a"]},
          replaces={"s.0001_squashed_0002": ["s.0001_a", "s.0002_b"]})

Every key named as a parent or as a squash becomes a node; a key named only
inside ``replaces`` does not, so a squash can replace migrations that are on
no disk.  The graph's ``repr`` is the builder call that makes it, so a
Hypothesis failure prints a reproducible example.

Nothing here imports Django.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from hypothesis import strategies as st

from migtool.core.graph import MigrationKey, MigrationNode, ProjectGraph
from migtool.core.snapshot import ReleaseSnapshot, freeze

APPS = ("a", "b", "c")
DIGESTS = ("0" * 64, "1" * 64, "f" * 64)


def k(spec: str) -> MigrationKey:
    """``"app.name"`` -> ``MigrationKey("app", "name")``."""
    app, dot, name = spec.partition(".")
    assert dot and app and name, f"not 'app.name': {spec!r}"
    return MigrationKey(app, name)


def ks(*specs: str) -> frozenset[MigrationKey]:
    return frozenset(k(s) for s in specs)


def names(keys: Iterable[MigrationKey]) -> set[str]:
    """Keys as ``"app.name"`` strings: set comparisons then fail with readable diffs."""
    return {str(key) for key in keys}


def ordered(keys: Iterable[MigrationKey]) -> list[str]:
    return [str(key) for key in keys]


class Graph(ProjectGraph):
    """A ``ProjectGraph`` whose repr is the ``graph(...)`` call that built it."""

    spec: str

    def __repr__(self) -> str:
        return self.spec


def graph(
    edges: Mapping[str, Iterable[str]] | None = None,
    *,
    replaces: Mapping[str, Iterable[str]] | None = None,
    checksums: Mapping[str, str] | None = None,
    gone: Iterable[str] = (),
    before: Mapping[str, Iterable[str]] | None = None,
    app_order: Iterable[str] = (),
) -> Graph:
    """Build a ``ProjectGraph`` from ``{"app.child": ["app.parent", ...]}``.

    Keys in ``gone`` are parents that are no file (a dependency on a replaced
    name deleted from disk); ``before`` maps a migration to such names its
    ``run_before`` lists; ``app_order`` is ``INSTALLED_APPS``.
    """
    edges = {child: list(parents) for child, parents in (edges or {}).items()}
    replaces = {squash: list(replaced) for squash, replaced in (replaces or {}).items()}
    checksums = dict(checksums or {})
    gone, before, app_order = sorted(gone), {m: list(b) for m, b in (before or {}).items()}, list(app_order)
    mentioned = set(edges) | set(replaces) | set(before) | {p for parents in edges.values() for p in parents}
    nodes = [
        MigrationNode(
            key=k(spec),
            parents=tuple(k(p) for p in edges.get(spec, ())),
            replaces=tuple(k(r) for r in replaces.get(spec, ())),
            checksum=checksums.get(spec),
            before=tuple(k(b) for b in before.get(spec, ())),
        )
        for spec in sorted(mentioned - set(gone))
    ]
    built = Graph(nodes, app_order)
    built.spec = f"graph({edges!r}, replaces={replaces!r}, checksums={checksums!r}"
    if gone or before or app_order:
        built.spec += f", gone={gone!r}, before={before!r}, app_order={app_order!r}"
    built.spec += ")"
    return built


def restrict(g: ProjectGraph, keep: Collection[MigrationKey]) -> Graph:
    """The part of ``g`` made of ``keep`` (which must hold every kept node's parents):
    the code on disk at an earlier commit."""
    return graph(
        {str(key): [str(p) for p in node.parents] for key, node in g.nodes.items() if key in keep},
        replaces={str(s): [str(r) for r in g.replaces[s]] for s in g.replaces if s in keep},
        checksums={str(key): n.checksum for key, n in g.nodes.items() if key in keep and n.checksum},
    )


def ancestors_closed(
    parents: Mapping[MigrationKey, Iterable[MigrationKey]], seeds: Iterable[MigrationKey]
) -> frozenset[MigrationKey]:
    """Reference implementation of "seeds plus all their ancestors", independent of migtool."""
    result: set[MigrationKey] = set()
    stack = list(seeds)
    while stack:
        key = stack.pop()
        if key not in result:
            result.add(key)
            stack.extend(parents.get(key, ()))
    return frozenset(result)


def originals(g: ProjectGraph) -> frozenset[MigrationKey]:
    """Every node that is not a squash."""
    return frozenset(key for key in g.nodes if key not in g.replaces)


def squashes_within(g: ProjectGraph, keys: Collection[MigrationKey]) -> frozenset[MigrationKey]:
    """The squashes of ``g`` whose replaced migrations all lie in ``keys``."""
    return frozenset(s for s, replaced in g.replaces.items() if set(replaced) <= set(keys))


def release_at(
    g: ProjectGraph, applied: Collection[MigrationKey], name: str, *, with_squashes: bool
) -> ReleaseSnapshot:
    """Freeze the code as it was when exactly ``applied`` existed: before the
    squashes were written (as far as no kept migration depends on one), or after."""
    needed = {p for key in applied for p in g.nodes[key].parents if p in g.replaces}
    keep = set(applied) | needed | (squashes_within(g, applied) if with_squashes else set())
    return freeze(restrict(g, keep), name, "5.2")


def _acyclic_with_squashes(edges: Mapping[str, list[str]], replaces: Mapping[str, list[str]]) -> bool:
    """Whether the originals stay acyclic once every run in ``replaces`` is
    contracted into one node (as Django does when all squashes are in effect).

    Squashing a run is unsound when a migration outside it lies on a path
    between two members, or when two squashes of different apps need each
    other; Django would raise CircularDependencyError.  Contracting fewer
    runs cannot create a cycle, so checking all of them at once is enough.
    """
    group = {member: squash for squash, run in replaces.items() for member in run}
    parents: dict[str, set[str]] = {}
    for child, ps in edges.items():
        if child in replaces:
            continue
        node = group.get(child, child)
        parents.setdefault(node, set()).update(group.get(p, p) for p in ps)
        parents[node].discard(node)
    waiting = {node: len(ps) for node, ps in parents.items()}
    ready = [node for node, n in waiting.items() if n == 0]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        for child, ps in parents.items():
            if node in ps:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
    return done == len(parents)


@st.composite
def dags(draw: st.DrawFn, *, max_nodes: int = 10, one_leaf_per_app: bool = False, squashes: bool = True) -> Graph:
    """A random migration graph, acyclic by construction.

    Node ``i`` is ``"<app>.<i:04d>_m"`` with a random app, so names sort in
    creation order within an app; parents are drawn only among lower indexes.
    With ``one_leaf_per_app`` each node also depends on the previous node of
    its app (no conflicts, so the graph can be frozen).  With ``squashes``
    an app may get a squash of a contiguous run of its migrations, the
    originals staying on disk (the transition state migtool must handle),
    and then a new migration that depends on the squash.
    """
    count = draw(st.integers(1, max_nodes))
    apps = [draw(st.sampled_from(APPS)) for _ in range(count)]
    specs = [f"{app}.{i:04d}_m" for i, app in enumerate(apps)]
    edges: dict[str, list[str]] = {}
    for i, spec in enumerate(specs):
        chosen = set(draw(st.sets(st.sampled_from(specs[:i]), max_size=3))) if i else set()
        previous = [s for s in specs[:i] if s.split(".")[0] == apps[i]]
        if one_leaf_per_app and previous:
            chosen.add(previous[-1])
        edges[spec] = sorted(chosen)
    replaces: dict[str, list[str]] = {}
    for app in sorted(set(apps)) if squashes else ():
        chain = [s for s in specs if s.split(".")[0] == app]
        if len(chain) < 2 or not draw(st.booleans()):
            continue
        start = draw(st.integers(0, len(chain) - 2))
        end = draw(st.integers(start + 1, len(chain) - 1))
        run = chain[start : end + 1]
        squash = f"{app}.{run[0].split('.')[1][:4]}_squashed_{run[-1].split('.')[1][:4]}"
        if _acyclic_with_squashes(edges, {**replaces, squash: run}):
            replaces[squash] = run
            edges[squash] = sorted({p for member in run for p in edges[member]} - set(run))
    for squash in sorted(replaces):  # a migration written after the squash depends on it
        if not draw(st.booleans()):
            continue
        app = squash.split(".")[0]
        parents = {squash, *draw(st.sets(st.sampled_from(specs), max_size=2))}
        if one_leaf_per_app:
            parents.add(max(s for s in edges if s.split(".")[0] == app and s not in replaces))
        edges[f"{app}.{len(specs):04d}_m"] = sorted(parents)
        specs.append(f"{app}.{len(specs):04d}_m")
    checksums = {spec: digest for spec in edges if (digest := draw(st.sampled_from((None, *DIGESTS)))) is not None}
    return graph(edges, replaces=replaces, checksums=checksums)


@st.composite
def applied_sets(draw: st.DrawFn, g: ProjectGraph) -> frozenset[MigrationKey]:
    """A random set of original (non-squash) migrations, closed under ancestors:
    what a database that applied them one by one has recorded.  A dependency
    on a squash is a dependency on everything it replaces."""
    pool = sorted(originals(g))
    seeds = draw(st.sets(st.sampled_from(pool))) if pool else set()
    needs = {key: [r for p in node.parents for r in (g.replaces.get(p) or (p,))] for key, node in g.nodes.items()}
    return ancestors_closed(needs, seeds)


release_names = st.from_regex(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,20}", fullmatch=True)
