"""Release snapshots: what a release consists of (how two differ: ``release_diff``).

A snapshot records, per app, the leaf migrations, the full set of migrations
(both spellings of every squash: the squash and the originals still on disk),
each squash's ``replaces`` and the sha256 of every migration file.  Its JSON
form is deterministic (sorted keys, sorted lists, no timestamps) so freezing
twice gives byte-identical files and version control shows real diffs.

A release frozen from a git ref also records its provenance (``source``) and
the apps it could not freeze: ``external`` (migrations outside the
repository) and ``unreadable`` (app -> why).  Such files are format version 2,
so an older migtool, which would take those apps as absent and unapply them,
refuses the file instead of misreading it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from migtool.core.graph import DependencyGraph, MigrationKey, ProjectGraph
from migtool.core.origins import Distribution
from migtool.errors import GraphConflictError, InvalidReleaseNameError, MalformedReleaseError

FORMAT = "migtool-release"
FORMAT_VERSION = 1
NOT_FROZEN_FORMAT_VERSION = 2  # files with "external" or "unreadable" apps
_HEX = re.compile(r"[0-9a-f]*")
RELEASE_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}")


def check_release_name(name: str) -> str:
    """Return ``name`` if it is a valid release name, else raise ``InvalidReleaseNameError``.

    Letters, digits, ``.``, ``_``, ``-`` and ``+``, not starting with a dot:
    a release name can never point outside the releases directory.
    """
    if not RELEASE_NAME.fullmatch(name):
        raise InvalidReleaseNameError(
            f"Invalid release name {name!r}.",
            hint="Use letters, digits, '.', '_', '-' and '+' only, not starting with '.' "
            "(at most 128 characters), e.g. 2.0.3.",
            release=name,
        )
    return name


def release_sort_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Order release names like versions: ``2.0.10`` after ``2.0.9``.

    Runs of digits compare as numbers and other runs as text; a number sorts
    before text at the same position.
    """
    return tuple((0, int(part)) if part.isdecimal() else (1, part) for part in re.findall(r"[0-9]+|[^0-9]+", name))


@dataclass(frozen=True)
class AppSnapshot:
    """One app's part of a release.  ``checksums`` is empty for legacy files.
    ``distribution`` names the installed distribution the app's migrations came
    from when the release was frozen; None for the project's own apps and for
    files frozen before migtool recorded it (see ``migtool.core.origins``)."""

    leaves: tuple[str, ...]
    migrations: tuple[str, ...]
    squashes: Mapping[str, tuple[MigrationKey, ...]] = field(default_factory=dict)
    checksums: Mapping[str, str] = field(default_factory=dict)
    distribution: Distribution | None = None


@dataclass(frozen=True)
class ReleaseSnapshot:
    """A frozen release.  ``legacy`` marks a leaves-only file of the older recipe,
    whose full set is only known after ``resolve_legacy`` against a graph."""

    release: str
    apps: Mapping[str, AppSnapshot]
    django_version: str | None = None
    legacy: bool = False
    source: Mapping[str, str] | None = None
    external: tuple[str, ...] = ()
    unreadable: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_frozen(self) -> frozenset[str]:
        """Apps whose migrations this release does not describe: commands leave them alone."""
        return frozenset(self.external) | frozenset(self.unreadable)

    def keys(self) -> frozenset[MigrationKey]:
        """Every migration of the release, in both spellings of each squash."""
        return frozenset(MigrationKey(app, m) for app, snap in self.apps.items() for m in snap.migrations)

    def replaces(self) -> dict[MigrationKey, tuple[MigrationKey, ...]]:
        """Every squash of the release, with what it replaced when the release was frozen."""
        return {MigrationKey(app, s): r for app, snap in self.apps.items() for s, r in snap.squashes.items()}

    def leaf_keys(self) -> tuple[MigrationKey, ...]:
        return tuple(MigrationKey(app, leaf) for app, snap in self.apps.items() for leaf in snap.leaves)

    def to_json(self) -> str:
        """Serialise deterministically, with a trailing newline."""
        apps: dict[str, Any] = {}
        for app, snap in self.apps.items():
            apps[app] = {
                "checksums": dict(snap.checksums),
                "leaves": sorted(snap.leaves),
                "migrations": sorted(snap.migrations),
                "squashes": {s: sorted(str(k) for k in r) for s, r in snap.squashes.items()},
            }
            if snap.distribution is not None:
                apps[app]["distribution"] = {"name": snap.distribution.name, "version": snap.distribution.version}
        payload: dict[str, Any] = {
            "apps": apps,
            "django_version": self.django_version,
            "format": FORMAT,
            "format_version": NOT_FROZEN_FORMAT_VERSION if self.not_frozen else FORMAT_VERSION,
            "release": self.release,
        }
        if self.source is not None:
            payload["source"] = dict(self.source)
        if self.external:
            payload["external"] = sorted(self.external)
        if self.unreadable:
            payload["unreadable"] = dict(self.unreadable)
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def freeze(
    graph: ProjectGraph,
    release: str,
    django_version: str | None,
    distributions: Mapping[str, Distribution] | None = None,
) -> ReleaseSnapshot:
    """Return the snapshot of everything on disk, as release ``release``;
    ``distributions`` maps the apps whose migrations are installed packages to them.

    Raises ``GraphConflictError`` when an app has several leaves, because the
    release would then not be one state Django can migrate to.
    """
    effective = graph.effective()
    leaves = effective.leaves()
    conflicts = {app: keys for app, keys in leaves.items() if len(keys) > 1}
    if conflicts:
        listing = "; ".join(f"{app}: {', '.join(k.name for k in keys)}" for app, keys in conflicts.items())
        raise GraphConflictError(
            f"Conflicting leaf migrations, so this is not one release state ({listing}).",
            hint="Run 'python manage.py makemigrations --merge', commit the merge migration, then freeze.",
            conflicts={app: [k.name for k in keys] for app, keys in conflicts.items()},
        )
    members = _members(graph, [k for keys in leaves.values() for k in keys], effective)
    leaf_names = {app: tuple(k.name for k in keys) for app, keys in leaves.items()}
    apps = _app_snapshots(graph, members, leaf_names, checksums=True)
    for app, distribution in (distributions or {}).items():
        if app in apps:
            apps[app] = replace(apps[app], distribution=distribution)
    return ReleaseSnapshot(release, apps, django_version)


def _members(
    graph: ProjectGraph, leaves: list[MigrationKey], effective: DependencyGraph | None = None
) -> frozenset[MigrationKey]:
    """Return the full set of a release with these leaves, in both spellings.

    Ancestors in the effective graph reach squashes that nothing declares a
    dependency on; the closure over declared edges reaches originals hidden by
    a squash.  Keys not on disk are kept, so callers can report them.
    """
    return graph.closure(set(leaves) | (effective or graph.effective()).ancestors(leaves))


def _app_snapshots(
    graph: ProjectGraph, members: frozenset[MigrationKey], leaves: Mapping[str, tuple[str, ...]], *, checksums: bool
) -> dict[str, AppSnapshot]:
    """Split ``members`` into per-app snapshots, with squash relations (and checksums) from ``graph``."""
    apps: dict[str, AppSnapshot] = {}
    for app, group in itertools.groupby(sorted(members), key=lambda k: k.app_label):
        keys = list(group)
        apps[app] = AppSnapshot(
            leaves=leaves.get(app, ()),
            migrations=tuple(k.name for k in keys),
            squashes={k.name: tuple(sorted(graph.replaces[k])) for k in keys if k in graph.replaces},
            checksums={k.name: c for k in keys if checksums and k in graph and (c := graph.nodes[k].checksum)},
        )
    return apps


def resolve_legacy(snapshot: ReleaseSnapshot, graph: ProjectGraph) -> ReleaseSnapshot:
    """Return a leaves-only snapshot completed with its closure in ``graph``.

    Checksums stay unknown: the older recipe never recorded them.  Leaves that
    are not on disk are kept as members so callers can report them.
    """
    if not snapshot.legacy:
        return snapshot
    members = _members(graph, list(snapshot.leaf_keys()))
    leaves = {app: snap.leaves for app, snap in snapshot.apps.items()}
    return ReleaseSnapshot(snapshot.release, _app_snapshots(graph, members, leaves, checksums=False), legacy=True)


def parse_snapshot(text: str, release: str, source: str, only_apps: Collection[str] | None = None) -> ReleaseSnapshot:
    """Parse a release file's text; ``source`` names the file in error messages.

    Accepts the current format and the older recipe's flat
    ``{"app_label": "leaf_migration_name"}`` object.  Anything else raises
    ``MalformedReleaseError`` naming the file and the problem.  With
    ``only_apps``, the snapshot is an excerpt: other apps of the current format
    are left out, unchecked (checking every app of every release file was most
    of the time a rollback spent reading them).
    """

    def bad(problem: str) -> MalformedReleaseError:
        return MalformedReleaseError(
            f"Malformed release file {source}: {problem}.",
            hint="Restore it from version control, or re-create it with 'migtool freeze --release "
            f"{release} --force' on the release's commit.",
            path=source,
            problem=problem,
        )

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise bad(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise bad("the top level is not a JSON object")
    if not data:
        raise bad("it names no apps (an empty object is not a release)")
    if "format" not in data:
        return _parse_legacy(data, release, bad)
    version = data.get("format_version")
    known = (FORMAT_VERSION, NOT_FROZEN_FORMAT_VERSION)
    if data.get("format") != FORMAT or type(version) is not int or version not in known:  # True == 1
        raise bad(
            f"unsupported format {data.get('format')!r} version {data.get('format_version')!r} "
            f"(this migtool reads {FORMAT} versions {', '.join(map(str, known))})"
        )
    if data.get("release") != release:
        raise bad(f"it says it is release {data.get('release')!r}, but the file is named for {release!r}")
    provenance, external, unreadable = _parse_provenance(data, bad)
    apps_data = data.get("apps")
    if not isinstance(apps_data, dict):  # empty: frozen while no app had migrations
        raise bad("'apps' must be an object")
    apps = {
        app: _parse_app(app, entry, bad)
        for app, entry in sorted(apps_data.items())
        if only_apps is None or app in only_apps
    }
    django_version = data.get("django_version")
    if django_version is not None and not isinstance(django_version, str):
        raise bad("'django_version' must be a string")
    return ReleaseSnapshot(
        release=release,
        apps=apps,
        django_version=django_version,
        source=provenance,
        external=external,
        unreadable=unreadable,
    )


def _parse_provenance(data: dict[str, Any], bad: Any) -> tuple[dict[str, str] | None, tuple[str, ...], dict[str, str]]:
    """``source``, ``external`` and ``unreadable`` of a file frozen from git (all optional)."""
    source = data.get("source")
    if source is not None and not (isinstance(source, dict) and set(map(type, source.values())) <= {str}):
        raise bad("'source' must map names to strings")
    external = data.get("external", [])
    if not isinstance(external, list) or not set(map(type, external)) <= {str}:
        raise bad("'external' must be a list of app labels")
    unreadable = data.get("unreadable", {})
    if not isinstance(unreadable, dict) or not set(map(type, unreadable.values())) <= {str}:
        raise bad("'unreadable' must map app labels to reasons")
    return source, tuple(sorted(external)), dict(sorted(unreadable.items()))


def _is_str_list(value: object) -> bool:
    """A list of non-empty strings (checked set-wise: release files hold thousands)."""
    return isinstance(value, list) and set(map(type, value)) <= {str} and "" not in value


def _is_sha256_map(value: object) -> bool:
    """A dict of sha256 hex digests: 64 lowercase hex characters each."""
    if not isinstance(value, dict):
        return False
    digests = list(value.values())
    well_formed = set(map(type, digests)) <= {str} and set(map(len, digests)) <= {64}
    return well_formed and _HEX.fullmatch("".join(digests)) is not None


def _parse_legacy(data: dict[str, Any], release: str, bad: Any) -> ReleaseSnapshot:
    apps: dict[str, AppSnapshot] = {}
    for app, leaf in sorted(data.items()):
        if not isinstance(leaf, str) or not leaf:
            raise bad(f"app {app!r} must map to a migration name (legacy format), not {leaf!r}")
        apps[app] = AppSnapshot(leaves=(leaf,), migrations=())
    return ReleaseSnapshot(release=release, apps=apps, legacy=True)


def _parse_app(app: str, entry: object, bad: Any) -> AppSnapshot:
    if not isinstance(entry, dict):
        raise bad(f"app {app!r} is not an object")
    for name in ("leaves", "migrations"):
        if not _is_str_list(entry.get(name)):
            raise bad(f"app {app!r}: {name!r} must be a list of migration names")
    migrations = tuple(entry["migrations"])
    leaves = tuple(entry["leaves"])
    if not leaves or not set(leaves) <= set(migrations):
        raise bad(f"app {app!r}: every leaf must be one of its migrations, and there must be one")
    squashes_data = entry.get("squashes", {})
    checksums = entry.get("checksums", {})
    if not isinstance(squashes_data, dict) or not all(_is_str_list(v) for v in squashes_data.values()):
        raise bad(f"app {app!r}: 'squashes' must map migration names to lists of 'app.name'")
    if not _is_sha256_map(checksums):
        raise bad(f"app {app!r}: 'checksums' must map migration names to sha256 hex digests")
    squashes: dict[str, tuple[MigrationKey, ...]] = {}
    for squash, replaced in sorted(squashes_data.items()):
        if squash not in migrations:
            raise bad(f"app {app!r}: squash {squash!r} is not one of its migrations")
        keys = []
        for item in replaced:
            label, _, name = item.partition(".")
            if not label or not name:
                raise bad(f"app {app!r}: squash {squash!r} replaces {item!r}, which is not 'app.name'")
            keys.append(MigrationKey(label, name))
        squashes[squash] = tuple(keys)
    return AppSnapshot(
        leaves=leaves,
        migrations=migrations,
        squashes=squashes,
        checksums=dict(sorted(checksums.items())),
        distribution=_parse_distribution(app, entry.get("distribution"), bad),
    )


def _parse_distribution(app: str, found: object, bad: Any) -> Distribution | None:
    """The optional ``"distribution": {"name", "version"}`` of an app (absent in older files)."""
    if found is None:
        return None
    fields = (found.get("name"), found.get("version")) if isinstance(found, dict) else (None, None)
    if not all(isinstance(f, str) and f for f in fields):
        raise bad(f"app {app!r}: 'distribution' must be an object with a 'name' and a 'version'")
    return Distribution(str(fields[0]), str(fields[1]))
