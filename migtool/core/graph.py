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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from migtool.core.replacement import load_order, replace_squashes, stand_ins
from migtool.errors import ConfigurationError


class MigrationKey(NamedTuple):
    """A migration's identity, the same tuple Django uses: ``(app_label, name)``."""

    app_label: str
    name: str

    def __str__(self) -> str:
        return f"{self.app_label}.{self.name}"


@dataclass(frozen=True, slots=True)
class MigrationNode:
    """One migration file.

    ``parents`` are its dependencies as Django's loader resolves them before any
    squash replacement (``__first__``/``__latest__`` resolved, ``run_before`` of
    other files included, as Django stores it as an edge).  A parent may be a
    name that no file defines but a squash replaces: Django repoints such a
    dependency to the squash, and ``ProjectGraph`` does the same in every view.
    ``before`` are the names absent from disk that this migration's
    ``run_before`` lists (an edge Django also repoints to the replacing squash).
    ``replaces`` is what a squash declares, which may name migrations that exist
    on no disk (the "patch-branch" trick).  ``checksum`` is the sha256 of the
    file's bytes.
    """

    key: MigrationKey
    parents: tuple[MigrationKey, ...] = ()
    replaces: tuple[MigrationKey, ...] = ()
    checksum: str | None = None
    before: tuple[MigrationKey, ...] = ()


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

    ``app_order`` is the order of ``INSTALLED_APPS``: Django loads (and so
    replaces) squashes in that order, which decides which squash takes over a
    name that two squashes replace.  Apps not listed come after, by label.
    Raises ``ConfigurationError`` when a dependency names a migration that is
    neither on disk nor replaced by a squash on disk (the adapter drops
    dependencies on unmigrated apps, as Django's loader does).
    """

    def __init__(self, nodes: Iterable[MigrationNode], app_order: Sequence[str] = ()) -> None:
        self.nodes: dict[MigrationKey, MigrationNode] = {n.key: n for n in sorted(nodes, key=lambda n: n.key)}
        self.replaces: dict[MigrationKey, tuple[MigrationKey, ...]] = {
            k: n.replaces for k, n in self.nodes.items() if n.replaces
        }
        self.squash_order = tuple(load_order(self.replaces, app_order))
        self.edges = self._edges()
        self.stand_ins = stand_ins(self.replaces, self.nodes, self.squash_order)
        self.declared = DependencyGraph(self._declared_parents())
        # Effective graphs by the squashes in use, the only thing of the recorded rows they
        # depend on: a fleet's targets, and each planning step, ask for the same few.
        self._effective: dict[frozenset[MigrationKey], DependencyGraph] = {}

    def __contains__(self, key: object) -> bool:
        return key in self.nodes

    @property
    def apps(self) -> tuple[str, ...]:
        return tuple(sorted({k.app_label for k in self.nodes}))

    def _edges(self) -> dict[MigrationKey, tuple[MigrationKey, ...]]:
        """Every node of Django's graph before replacement, with its parents:
        the files, and placeholders for the names they mention that no file defines."""
        edges: dict[MigrationKey, set[MigrationKey]] = {k: set(n.parents) for k, n in self.nodes.items()}
        for key, node in self.nodes.items():
            for parent in node.parents:
                edges.setdefault(parent, set())
            for later in node.before:
                edges.setdefault(later, set()).add(key)
        return {k: tuple(sorted(ps)) for k, ps in sorted(edges.items())}

    def _declared_parents(self) -> dict[MigrationKey, tuple[MigrationKey, ...]]:
        """The edges of the files with every placeholder resolved to the squash
        standing for it: the graph without replacements (originals and squashes
        side by side), which Django's loader would refuse to build."""
        parents: dict[MigrationKey, set[MigrationKey]] = {k: set() for k in self.nodes}
        for key, ps in self.edges.items():
            for parent in ps:
                child = key if key in self.nodes else self._stand_in(key, parent)
                parents[child].add(parent if parent in self.nodes else self._stand_in(parent, key))
        return {k: tuple(sorted(ps)) for k, ps in parents.items()}

    def _stand_in(self, name: MigrationKey, neighbour: MigrationKey) -> MigrationKey:
        if name not in self.stand_ins:
            raise ConfigurationError(
                f"The project's migrations cannot be loaded: migration {neighbour} depends on {name}, "
                "which is not on disk and is replaced by no squash.",
                hint="Fix the migration files; 'python manage.py showmigrations' shows the same problem.",
            )
        return self.stand_ins[name]

    def closure(self, keys: Iterable[MigrationKey]) -> frozenset[MigrationKey]:
        """Return ``keys`` plus everything they need: ancestors, and for every
        squash the replaced migrations that exist on disk (and their ancestors).

        This is the set of migrations a release consists of, in both spellings.
        Keys not on disk are kept, so the caller can report them.
        """

        def needs(key: MigrationKey) -> Iterable[MigrationKey]:
            if key not in self.nodes:
                return ()
            return (*self.declared.parents[key], *(r for r in self.replaces.get(key, ()) if r in self.nodes))

        return reachable(keys, needs)

    def atoms(self, keys: Iterable[MigrationKey]) -> frozenset[MigrationKey]:
        """Return the squash-free spelling of ``keys`` (see ``expand_squashes``)."""
        return expand_squashes(keys, self.replaces)

    def is_used(self, squash: MigrationKey, recorded: frozenset[MigrationKey]) -> bool:
        """Django's rule (loader.build_graph, recursive since 6.0, which migtool
        follows on every version): a squash is used when *all* or *none* of the
        migrations it stands for are recorded; when only some are, the squash is
        dropped and its originals are used."""
        atoms = self.atoms([squash])
        return len(atoms & recorded) in (0, len(atoms))

    def squashes_in_effect(self, recorded: frozenset[MigrationKey] = frozenset()) -> frozenset[MigrationKey]:
        """Return the squashes that are nodes of Django's graph for ``recorded`` rows:
        used (see ``is_used``) and not absorbed by an outer squash in use."""
        return frozenset(k for k in self.effective(recorded).parents if k in self.replaces)

    def effective(self, recorded: frozenset[MigrationKey] = frozenset()) -> DependencyGraph:
        """Return the graph Django would plan with for a database with ``recorded`` rows.

        Django's replacement steps are replayed in Django's order
        (``migtool.core.replacement``): a squash in use hides the migrations it
        replaces and takes over their edges, dependencies on replaced names
        absent from disk included; a dropped squash (partly recorded) hides
        itself, and its children depend on its latest originals instead.
        Raises ``ConfigurationError`` where Django's loader refuses the database.
        """
        used = frozenset(s for s in self.replaces if self.is_used(s, recorded))
        if used in self._effective:
            return self._effective[used]
        parents = replace_squashes(self.edges, self.nodes, self.replaces, self.squash_order, used.__contains__)
        result = DependencyGraph(parents)
        if len(result.order) != len(parents):
            cycle = sorted(set(parents) - set(result.order))
            raise ConfigurationError(
                "The project's migrations cannot be loaded: circular dependency once squashes replace "
                f"their originals, through {', '.join(map(str, cycle[:5]))}.",
                hint="Fix the migration files; 'python manage.py showmigrations' shows the same problem.",
            )
        self._effective[used] = result
        return result

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

    def replay_order(self, keys: Iterable[MigrationKey]) -> tuple[MigrationKey, ...]:
        """Return ``keys`` in the order Django replays the whole history before a
        backwards run (``MigrationExecutor.migration_plan(leaf_nodes(),
        clean_start=True)``), filtered down to ``keys``.

        Django renders the state each reverted migration starts from by replaying,
        in this order, the applied migrations before it.  A rollback that reverts
        in the reverse of this order reverts every migration after all those the
        replay puts after it, so each state matches the database at that moment;
        in any other valid order a revert can start from a state that still
        holds migrations already reverted, and SQLite's table remakes then
        rebuild a related table as those migrations left it.
        """
        wanted = frozenset(keys)
        return tuple(k for k in self.django_order if k in wanted)

    @cached_property
    def django_order(self) -> tuple[MigrationKey, ...]:
        """Every node in Django's full-plan order: one depth-first post-order
        walk per leaf (a node with no child in its app), leaves and parents in
        key order, each node where the first walk reaches it.

        Django runs one search per leaf, each walking all the leaf's ancestors
        again (leaves x migrations steps); skipping what an earlier walk already
        planned gives the same order in one pass, since the skipped parts hold
        only planned nodes."""
        planned: set[MigrationKey] = set()
        order: list[MigrationKey] = []
        for leaf in sorted(k for keys in self.leaves().values() for k in keys):
            stack = [(leaf, False)]
            while stack:
                key, expanded = stack.pop()
                if key in planned:
                    continue
                if expanded:
                    planned.add(key)
                    order.append(key)
                else:
                    stack.append((key, True))
                    stack += [(parent, False) for parent in sorted(self.parents[key])]
        return tuple(order)

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
