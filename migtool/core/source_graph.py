"""The migration graph Django's loader would build, from files read without importing them.

Why: a release frozen from a git ref must name exactly what ``freeze`` on a
checkout of that ref names, so this module mirrors the two parts of
``MigrationLoader`` that decide it: which files of a migrations package are
migrations (``load_disk``: ``pkgutil.iter_modules``, names starting ``_`` or
``~`` skipped, sub-packages skipped and shadowing a same-named module), and
how declared dependencies become edges (``build_graph``/``check_key``:
``__first__`` and ``__latest__`` resolved to an app's first root or leaf,
ignored within the same app and for apps without migrations; ``run_before``
as a reversed edge; ``swappable_dependency`` through the settings' value).

A dependency Django would reject (a migration that does not exist, an app
that is not installed) raises ``UnreadableSourceError`` naming the file, and
so does a file that is not Python source.  Pure: listings and sources in, a
``ProjectGraph`` out.
"""

from __future__ import annotations

import importlib.machinery
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from migtool.core.graph import MigrationKey, MigrationNode, ProjectGraph
from migtool.core.migration_source import Dependency, MigrationSource, Swappable
from migtool.errors import UnreadableSourceError

_SPECIAL = ("__first__", "__latest__")


@dataclass(frozen=True)
class TreeEntry:
    """One file of a tree: ``path`` relative to the repository root, ``/``-separated."""

    path: str
    mode: str
    oid: str


_SUFFIXES = sorted(importlib.machinery.all_suffixes(), key=len, reverse=True)


def module_name(filename: str) -> str | None:
    """The module name ``pkgutil`` gives a file (``inspect.getmodulename``), or None."""
    for suffix in _SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return None


def migration_files(folder: str, entries: Iterable[TreeEntry]) -> dict[str, TreeEntry] | None:
    """Return the migration modules in ``folder`` by name, or None if it is not a package.

    ``entries`` are the files under ``folder`` (any depth).  Without an
    ``__init__`` the folder is no regular package and Django counts the app
    as unmigrated.
    """
    prefix = folder.rstrip("/") + "/"
    modules: dict[str, TreeEntry] = {}
    packages: set[str] = set()
    is_package = False
    for entry in entries:
        rest = entry.path[len(prefix) :] if entry.path.startswith(prefix) else None
        if rest is None:
            continue
        head, _, tail = rest.partition("/")
        if tail:
            if "/" not in tail and module_name(tail) == "__init__" and "." not in head:
                packages.add(head)
            continue
        name = module_name(head)
        if name == "__init__":
            is_package = True
        elif name and "." not in name:
            modules.setdefault(name, entry)
    if not is_package:
        return None
    return {n: e for n, e in sorted(modules.items()) if n[0] not in "_~" and n not in packages}


@dataclass(frozen=True)
class SourceFile:
    """A migration file as read: what it declares, its checksum, where it is."""

    path: str
    source: MigrationSource
    checksum: str


@dataclass(frozen=True)
class Installed:
    """What is known about the apps installed today.

    ``external`` are the labels whose migrations live outside the repository;
    ``external_graph`` holds their migrations (``--external current``) or is
    None (not frozen: edges to them are dropped).  ``settings`` gives the
    value of each setting named by a ``swappable_dependency``.
    """

    labels: frozenset[str]
    external: frozenset[str] = frozenset()
    external_graph: ProjectGraph | None = None
    settings: Mapping[str, object] = field(default_factory=dict)


def build_graph(apps: Mapping[str, Mapping[str, SourceFile]], installed: Installed) -> ProjectGraph:
    """Return the graph of the repository's ``apps`` (label -> name -> file), plus
    the external migrations when ``installed.external_graph`` is given.

    Raises ``UnreadableSourceError`` with ``app`` and ``path`` in its details
    for a dependency Django's loader would reject.
    """
    external_nodes = installed.external_graph.nodes if installed.external_graph is not None else {}
    present: set[MigrationKey] = {MigrationKey(a, n) for a, files in apps.items() for n in files}
    present |= {k for k in external_nodes if k.app_label in installed.external}
    parents: dict[MigrationKey, set[MigrationKey]] = {
        MigrationKey(a, n): set() for a, files in apps.items() for n in files
    }
    # A name that no file defines but a squash replaces is a placeholder that
    # ProjectGraph repoints to the squash, as Django's loader does (issue 10).
    present |= {MigrationKey(*r) for files in apps.values() for f in files.values() for r in f.source.replaces}
    present |= {r for k, n in external_nodes.items() if k.app_label in installed.external for r in n.replaces}
    before: dict[MigrationKey, set[MigrationKey]] = {k: set() for k in parents}

    def fail(app: str, file: SourceFile, why: str) -> UnreadableSourceError:
        return UnreadableSourceError(why, app=app, path=file.path)

    def resolve(dep: Dependency, app: str, file: SourceFile, what: str) -> tuple[str, str]:
        if isinstance(dep, Swappable):
            value = installed.settings.get(dep.setting)
            if not isinstance(value, str) or "." not in value:
                raise fail(app, file, f"its {what} name settings.{dep.setting}, which is not set to 'app.Model' today")
            return (value.split(".", 1)[0], "__first__")
        return dep

    # Internal edges first, as Django adds them before resolving __first__/__latest__.
    for app, files in apps.items():
        for name, file in files.items():
            for dep in file.source.dependencies:
                label, parent = resolve(dep, app, file, "dependencies")
                if label == app and parent != "__first__":
                    parents[MigrationKey(app, name)].add(_existing(MigrationKey(label, parent), present, app, file))

    def check(key: tuple[str, str], app: str, file: SourceFile) -> MigrationKey | None:
        """Django's ``check_key``: the node a dependency names, or None when it is ignored."""
        label, name = key
        if label in installed.external and installed.external_graph is None:
            return None  # not frozen: the edge leaves the release
        if name not in _SPECIAL or MigrationKey(label, name) in present:
            return _existing(MigrationKey(label, name), present, app, file)
        if label == app:
            return None
        if label not in installed.labels:
            raise fail(app, file, f"it depends on {label}.{name}, but no app {label!r} is installed today")
        same_app = sorted(k for k in parents if k.app_label == label) or sorted(
            k for k in external_nodes if k.app_label == label
        )
        if not same_app:
            return None  # an app without migrations: Django ignores the dependency
        if name == "__first__":
            return next((k for k in same_app if not any(p.app_label == label for p in parents_of(k))), None)
        children = {p for k in same_app for p in parents_of(k) if p.app_label == label}
        return next((k for k in same_app if k not in children), None)

    def parents_of(key: MigrationKey) -> Iterable[MigrationKey]:
        return parents[key] if key in parents else external_nodes[key].parents

    for app, files in apps.items():
        for name, file in files.items():
            key = MigrationKey(app, name)
            for dep in file.source.dependencies:
                label, parent = resolve(dep, app, file, "dependencies")
                if label != app and (target := check((label, parent), app, file)) is not None:
                    parents[key].add(target)
            for dep in file.source.run_before:
                child = check(resolve(dep, app, file, "run_before"), app, file)
                if child in parents:
                    parents[child].add(key)
                elif child is not None and child.app_label not in installed.external:
                    before[key].add(child)  # a replaced name: the edge goes to its squash

    nodes = [
        MigrationNode(
            key=key,
            parents=tuple(sorted(parents[key])),
            replaces=tuple(MigrationKey(*r) for r in apps[key.app_label][key.name].source.replaces),
            checksum=apps[key.app_label][key.name].checksum,
            before=tuple(sorted(before[key])),
        )
        for key in parents
    ]
    nodes += [
        MigrationNode(
            k,
            tuple(p for p in n.parents if p in present),
            n.replaces,
            n.checksum,
            tuple(b for b in n.before if b in present),
        )
        for k, n in external_nodes.items()
        if k.app_label in installed.external
    ]
    return ProjectGraph(nodes)


def _existing(key: MigrationKey, present: set[MigrationKey], app: str, file: SourceFile) -> MigrationKey:
    if key not in present:
        raise UnreadableSourceError(
            f"it depends on {key}, which does not exist there (Django raises NodeNotFoundError)",
            app=app,
            path=file.path,
        )
    return key
