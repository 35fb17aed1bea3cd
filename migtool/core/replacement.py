"""Django's squash replacement, replayed step by step on migtool's values.

Why this exists: the graph Django plans with is whatever
``MigrationLoader.build_graph`` leaves behind.  Every migration file becomes a
node, and so does every name that a dependency or ``run_before`` mentions but
no file defines (a placeholder).  Then each squash, inner squashes first
(Django 6.0's recursive ``replace_migration``), either takes over what it
replaces (``remove_replaced_nodes``: all or none of its atoms recorded) or
gives way to its originals (``remove_replacement_node``: some recorded).  A
dependency on a replaced name that is gone from disk resolves only through
such a takeover, and which squash takes over a name replaced twice depends on
the order of the steps.  So migtool replays the same steps in the same order
(squashes in Django 6.1's load order: ``INSTALLED_APPS`` order, then by name)
instead of approximating their outcome: its effective graph is Django's, edge
for edge, and it refuses the databases Django refuses.

The squash-free ("declared") view needs the same resolution without a
database: ``stand_ins`` maps each replaced name absent from disk to the squash
on disk that stands for it there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from migtool.errors import ConfigurationError

if TYPE_CHECKING:
    from migtool.core.graph import MigrationKey

Edges = dict["MigrationKey", set["MigrationKey"]]


def load_order(keys: Iterable[MigrationKey], app_order: Sequence[str]) -> list[MigrationKey]:
    """Return ``keys`` in the order Django 6.1 loads them from disk: apps in
    ``app_order`` (``INSTALLED_APPS``) first, other apps after them by label,
    and by name within an app."""
    rank = {app: i for i, app in enumerate(app_order)}
    return sorted(keys, key=lambda k: (rank.get(k.app_label, len(rank)), k))


def stand_ins(
    replaces: Mapping[MigrationKey, Sequence[MigrationKey]],
    files: Collection[MigrationKey],
    squash_order: Sequence[MigrationKey],
) -> dict[MigrationKey, MigrationKey]:
    """Return, for every replaced name that is not a file, the squash standing for it:
    the first squash in ``squash_order`` whose ``replaces`` names it.

    That is the squash Django repoints a dependency on the name to when nothing
    is applied (for a name replaced by one squash, whatever is applied, as long
    as that squash is used).
    """
    result: dict[MigrationKey, MigrationKey] = {}
    for squash in squash_order:
        for name in replaces[squash]:
            if name not in files:
                result.setdefault(name, squash)
    return result


def replace_squashes(
    edges: Mapping[MigrationKey, Iterable[MigrationKey]],
    files: Collection[MigrationKey],
    replaces: Mapping[MigrationKey, Sequence[MigrationKey]],
    squash_order: Sequence[MigrationKey],
    is_used: Callable[[MigrationKey], bool],
) -> dict[MigrationKey, tuple[MigrationKey, ...]]:
    """Return the parents of every node of the graph Django builds, files only.

    ``edges`` maps every node (files, and placeholders: names a dependency or
    ``run_before`` mentions that no file defines) to its parents as Django's
    loader adds them before any replacement.  ``is_used(squash)`` is Django's
    rule for the database at hand (all or none of the squash's atoms recorded).
    Raises ``ConfigurationError`` where Django raises ``NodeNotFoundError``: a
    placeholder left over because no squash in use took it over.
    """
    parents: Edges = {key: set() for key in edges}
    children: Edges = {key: set() for key in edges}
    for key, ps in edges.items():
        for parent in ps:
            _link(parents, children, key, parent)
    done: dict[MigrationKey, bool] = {}

    def replace(squash: MigrationKey) -> None:
        if done.get(squash):
            return
        if squash in done:
            raise ConfigurationError(
                f"The project's migrations cannot be loaded: cyclical squash replacement found, starting at {squash}.",
                hint="Fix the 'replaces' lists so that no squash replaces itself through another squash.",
            )
        done[squash] = False
        for inner in replaces[squash]:
            if inner in replaces:
                replace(inner)
        if is_used(squash):
            _take_over(parents, children, squash, frozenset(replaces[squash]))
        else:
            _give_way(parents, children, squash, replaces[squash])
        done[squash] = True

    for squash in squash_order:
        replace(squash)
    left = sorted(key for key in parents if key not in files)
    if left:
        raise _placeholder_error(left[0], children[left[0]] or parents[left[0]], replaces)
    return {key: tuple(sorted(ps)) for key, ps in parents.items()}


def _link(parents: Edges, children: Edges, child: MigrationKey, parent: MigrationKey) -> None:
    parents.setdefault(child, set()).add(parent)
    children.setdefault(child, set())
    parents.setdefault(parent, set())
    children.setdefault(parent, set()).add(child)


def _take_over(parents: Edges, children: Edges, squash: MigrationKey, replaced: frozenset[MigrationKey]) -> None:
    """``MigrationGraph.remove_replaced_nodes``: drop each replaced node present
    (file or placeholder) and move its outside edges onto ``squash``."""
    for key in sorted(replaced):
        if key not in parents:
            continue
        for child in children.pop(key):
            parents[child].discard(key)
            if child not in replaced:
                _link(parents, children, child, squash)
        for parent in parents.pop(key):
            children[parent].discard(key)
            if parent not in replaced:
                _link(parents, children, squash, parent)


def _give_way(parents: Edges, children: Edges, squash: MigrationKey, replaced: Sequence[MigrationKey]) -> None:
    """``MigrationGraph.remove_replacement_node``: drop ``squash``; its children
    depend on the latest replaced nodes still present instead."""
    present = {k for k in replaced if k in parents}
    latest = present - {p for k in present for p in parents[k]}
    for child in children.pop(squash):
        parents[child].discard(squash)
        for original in latest:
            _link(parents, children, child, original)
    for parent in parents.pop(squash):
        children[parent].discard(squash)


def _placeholder_error(
    name: MigrationKey, neighbours: Iterable[MigrationKey], replaces: Mapping[MigrationKey, Sequence[MigrationKey]]
) -> ConfigurationError:
    """Django's ``NodeNotFoundError`` for a placeholder, as one sentence and a hint."""
    origin = min(neighbours, default=name)
    squashes = sorted(s for s, replaced in replaces.items() if name in replaced)
    if squashes:
        return ConfigurationError(
            f"The project's migrations cannot be loaded for this database: migration {origin} depends on {name}, "
            f"which is not on disk, and {', '.join(map(str, squashes))} replacing it cannot be used because only "
            "some of the migrations it replaces are applied.",
            hint="Put the replaced migration files back until every database has applied the squash completely; "
            "'python manage.py migrate' fails the same way.",
        )
    return ConfigurationError(
        f"The project's migrations cannot be loaded: migration {origin} depends on {name}, "
        "which is not on disk and is replaced by no squash.",
        hint="Fix the migration files; 'python manage.py showmigrations' shows the same problem.",
    )
