"""The migration graph as plain, hashable values.

``ProjectGraph`` holds every migration found on disk: squashes *and* the
migrations they replace, each with the dependencies it declares.  Django's
``MigrationGraph`` hides one of the two spellings depending on what a database
has applied; migtool keeps both and derives the *effective* graph (the one
Django would plan with) on demand, so a release frozen before a squash can
still be resolved after it, and the reverse.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple


class MigrationKey(NamedTuple):
    """A migration's identity, the same tuple Django uses: ``(app_label, name)``."""

    app_label: str
    name: str

    def __str__(self) -> str:
        return f"{self.app_label}.{self.name}"


@dataclass(frozen=True, slots=True)
class MigrationNode:
    """One migration file.

    ``parents`` are its resolved dependencies (``run_before`` included, as
    Django stores it as an edge).  ``replaces`` is what a squash declares, which
    may name migrations that exist on no disk (the "patch-branch" trick).
    ``checksum`` is the sha256 of the file's bytes.
    """

    key: MigrationKey
    parents: tuple[MigrationKey, ...] = ()
    replaces: tuple[MigrationKey, ...] = ()
    checksum: str | None = None


def reachable(
    keys: Iterable[MigrationKey], step: Callable[[MigrationKey], Iterable[MigrationKey]]
) -> frozenset[MigrationKey]:
    """Return ``keys`` and everything reached from them by repeatedly following ``step``."""
    seen: set[MigrationKey] = set()
    pending = list(keys)
    while pending:
        key = pending.pop()
        if key not in seen:
            seen.add(key)
            pending.extend(step(key))
    return frozenset(seen)


def expand_squashes(
    keys: Iterable[MigrationKey], replaces: Mapping[MigrationKey, tuple[MigrationKey, ...]]
) -> frozenset[MigrationKey]:
    """Return ``keys`` with every squash replaced, recursively, by what it replaces.

    The result holds only "atoms": migrations that stand for themselves.  Two
    sets of migrations describe the same database state exactly when their
    atoms are equal, whichever squashes each spelling uses.
    """
    return frozenset(k for k in reachable(keys, lambda k: replaces.get(k, ())) if not replaces.get(k))


class ProjectGraph:
    """Every migration on disk, with declared edges and squash relations.

    Invariant: ``parents`` only name keys present in the graph (the adapter
    drops dependencies on unmigrated apps, as Django's loader does).
    """

    def __init__(self, nodes: Iterable[MigrationNode]) -> None:
        self.nodes: dict[MigrationKey, MigrationNode] = {n.key: n for n in sorted(nodes, key=lambda n: n.key)}
        self.replaces: dict[MigrationKey, tuple[MigrationKey, ...]] = {
            k: n.replaces for k, n in self.nodes.items() if n.replaces
        }
        self.declared = DependencyGraph({k: n.parents for k, n in self.nodes.items()})

    def __contains__(self, key: object) -> bool:
        return key in self.nodes

    @property
    def apps(self) -> tuple[str, ...]:
        return tuple(sorted({k.app_label for k in self.nodes}))

    def closure(self, keys: Iterable[MigrationKey]) -> frozenset[MigrationKey]:
        """Return ``keys`` plus everything they need: ancestors, and for every
        squash the replaced migrations that exist on disk (and their ancestors).

        This is the set of migrations a release consists of, in both spellings.
        Keys not on disk are kept, so the caller can report them.
        """

        def needs(key: MigrationKey) -> Iterable[MigrationKey]:
            node = self.nodes.get(key)
            return () if node is None else (*node.parents, *(r for r in node.replaces if r in self.nodes))

        return reachable(keys, needs)

    def atoms(self, keys: Iterable[MigrationKey]) -> frozenset[MigrationKey]:
        """Return the squash-free spelling of ``keys`` (see ``expand_squashes``)."""
        return expand_squashes(keys, self.replaces)

    def squashes_in_effect(self, recorded: frozenset[MigrationKey] = frozenset()) -> frozenset[MigrationKey]:
        """Return the squashes Django's loader puts in the graph for ``recorded`` rows.

        Django's rule (loader.build_graph, recursive since 6.0, which migtool
        follows on every version): a squash is used when *all* or *none* of the
        migrations it replaces are recorded; when only some are, the squash is
        dropped and its originals are used.  A squash nested inside another
        squash in effect is absorbed by the outer one.
        """
        in_effect: set[MigrationKey] = set()
        for squash, replaced in self.replaces.items():
            atoms = self.atoms(replaced)
            done = sum(1 for a in atoms if a in recorded)
            if done in (0, len(atoms)):
                in_effect.add(squash)
        absorbed = {inner for outer in in_effect for inner in self.replaces[outer] if inner in in_effect}
        return frozenset(in_effect - absorbed)

    def effective(self, recorded: frozenset[MigrationKey] = frozenset()) -> DependencyGraph:
        """Return the graph Django would plan with for a database with ``recorded`` rows.

        A squash in effect hides the migrations it replaces and takes over their
        edges; a dropped squash (partly recorded) hides itself, and its children
        depend on its latest originals instead, as in Django's
        ``remove_replacement_node``.
        """
        squashes = self.squashes_in_effect(recorded)
        redirect: dict[MigrationKey, frozenset[MigrationKey]] = {}
        for squash in squashes:
            for replaced in self.replaced_on_disk(squash):
                redirect[replaced] = frozenset([squash])
        for squash in self.replaces.keys() - squashes - redirect.keys():
            originals = self.replaced_on_disk(squash)
            redirect[squash] = originals - {p for o in originals for p in self.nodes[o].parents}

        def resolve(key: MigrationKey) -> frozenset[MigrationKey]:
            return frozenset().union(*map(resolve, redirect[key])) if key in redirect else frozenset([key])

        parents: dict[MigrationKey, tuple[MigrationKey, ...]] = {}
        for key, node in self.nodes.items():
            if key in redirect:
                continue
            edges = set(node.parents)
            if key in squashes:
                edges.update(p for member in self.replaced_on_disk(key) for p in self.nodes[member].parents)
            parents[key] = tuple(sorted(frozenset().union(*map(resolve, edges)) - {key}))
        return DependencyGraph(parents)

    def applied(self, recorded: frozenset[MigrationKey]) -> frozenset[MigrationKey]:
        """Return what Django counts as applied, as ``loader.applied_migrations`` does.

        In the effective graph for ``recorded``: a squash is applied when every
        migration it stands for is recorded (its own row is neither needed nor
        enough); any other migration when it is recorded.  Rows for migrations
        that are not on disk are not part of the result.
        """
        result = set()
        for key in self.effective(recorded).parents:
            if key in self.replaces:
                if self.atoms([key]) <= recorded:
                    result.add(key)
            elif key in recorded:
                result.add(key)
        return frozenset(result)

    def stands_for(self, keys: Iterable[MigrationKey]) -> frozenset[MigrationKey]:
        """Return ``keys`` and every name they replace, recursively, on disk or not:
        the rows Django deletes when it unapplies them."""
        return reachable(keys, lambda k: self.replaces.get(k, ()))

    def replaced_on_disk(self, squash: MigrationKey) -> frozenset[MigrationKey]:
        """Every migration on disk that ``squash`` replaces, directly or through a nested squash."""
        return frozenset(k for k in self.stands_for([squash]) - {squash} if k in self.nodes)


class DependencyGraph:
    """Nodes and dependency edges to plan with: the declared edges of every
    file, or the effective graph Django uses for one recorded state."""

    def __init__(self, parents: Mapping[MigrationKey, tuple[MigrationKey, ...]]) -> None:
        self.parents = parents

    @cached_property
    def children(self) -> dict[MigrationKey, tuple[MigrationKey, ...]]:
        children: dict[MigrationKey, list[MigrationKey]] = {k: [] for k in self.parents}
        for key, parents in self.parents.items():
            for parent in parents:
                children[parent].append(key)
        return {k: tuple(sorted(v)) for k, v in children.items()}

    def ancestors(self, keys: Iterable[MigrationKey]) -> frozenset[MigrationKey]:
        """Return ``keys`` (those in the graph) plus everything they depend on."""
        return reachable((k for k in keys if k in self.parents), lambda k: self.parents[k])

    def descendants(self, keys: Iterable[MigrationKey]) -> frozenset[MigrationKey]:
        """Return ``keys`` (those in the graph) plus everything depending on them."""
        return reachable((k for k in keys if k in self.parents), lambda k: self.children[k])

    def leaves(self) -> dict[str, tuple[MigrationKey, ...]]:
        """Return each app's leaf migrations: nodes with no child in the same app.

        More than one leaf in an app is a conflict Django refuses to migrate.
        """
        has_app_child = {p for key, ps in self.parents.items() for p in ps if p.app_label == key.app_label}
        leaves: dict[str, list[MigrationKey]] = {}
        for key in self.parents:
            if key not in has_app_child:
                leaves.setdefault(key.app_label, []).append(key)
        return {app: tuple(sorted(keys)) for app, keys in sorted(leaves.items())}

    def topological_order(self, keys: Iterable[MigrationKey]) -> tuple[MigrationKey, ...]:
        """Return ``keys`` ordered so that every migration comes after its ancestors.

        One global order of the whole graph (Kahn's algorithm, ties broken by
        key) is filtered down to ``keys``, so edges through migrations outside
        ``keys`` are respected and the order depends only on the graph.
        """
        wanted = frozenset(keys)
        return tuple(k for k in self.order if k in wanted)

    @cached_property
    def order(self) -> tuple[MigrationKey, ...]:
        """Every node, parents first, deterministically."""
        waiting = {k: len(ps) for k, ps in self.parents.items()}
        ready = [k for k, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order: list[MigrationKey] = []
        while ready:
            key = heapq.heappop(ready)
            order.append(key)
            for child in self.children[key]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, child)
        return tuple(order)
