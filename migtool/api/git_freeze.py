"""Use cases that freeze past releases from git refs: one ref, or every matching tag.

Why: a project adopting migtool has years of releases and no release files,
but every release it shipped is a git tag.  Its migration files are read
from git objects (``migtool.git_objects``), parsed without importing
(``migtool.core.migration_source``) and built into the graph Django would
load (``migtool.core.source_graph``), with today's app configs saying which
folder holds each app's migrations (``migtool.django_adapter.app_folders``).
The release file is then what ``freeze`` on a checkout of the ref writes,
plus its provenance.

Apps whose migrations live outside the repository cannot be known from a
ref: they are recorded as ``external`` (left alone by ``rollback``), or, with
``external="current"``, as installed today.  Whatever cannot be read refuses
the release (exit 4, nothing written) unless ``skip_unreadable`` records the
app as ``unreadable`` with the reason.
"""

from __future__ import annotations

import hashlib
import re
import site
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from migtool.api.project import Project
from migtool.api.releases import FreezeResult, save_release
from migtool.core.migration_source import MigrationSource, Swappable, read_migration
from migtool.core.snapshot import ReleaseSnapshot, check_release_name, freeze
from migtool.core.source_graph import Installed, SourceFile, TreeEntry, build_graph, migration_files
from migtool.errors import GraphConflictError, InputError, UnreadableSourceError
from migtool.git_objects import GitRepository

EXTERNAL_CHOICES = ("unknown", "current")
_TREE, _SYMLINK, _SUBMODULE = "040000", "120000", "160000"


@dataclass(frozen=True)
class TagFreeze:
    """One tag of a backfill: the release it gives, and whether it was written."""

    tag: str
    release: str
    commit: str
    snapshot: ReleaseSnapshot | None  # None: the release exists and was left as it is
    path: Path


class GitFreezer:
    """Snapshots of git refs for one project; blobs read and parsed once per command."""

    def __init__(self, project: Project, *, external: str = "unknown", skip_unreadable: bool = False) -> None:
        from migtool.django_adapter.app_folders import migration_folders

        project.setup()
        self.project = project
        self.repo = GitRepository(Path.cwd())
        self.skip_unreadable = skip_unreadable
        self.external_mode = external
        toplevel = self.repo.toplevel.resolve()
        self.folders: dict[str, str] = {}  # label -> folder relative to the top level
        external_labels: set[str] = set()
        installed = migration_folders()
        for app in installed:
            relative = _inside(app.folder, toplevel) if app.folder is not None else None
            if relative is not None:
                self.folders[app.label] = relative
            elif app.has_migrations_today:
                external_labels.add(app.label)
        self.installed = Installed(
            labels=frozenset(a.label for a in installed),
            external=frozenset(external_labels),
            external_graph=project.graph if external == "current" else None,
        )
        self._apps_read: dict[tuple[str, str], dict[str, SourceFile] | UnreadableSourceError | None] = {}

    def snapshot(self, release: str, ref: str) -> tuple[ReleaseSnapshot, str]:
        """Return release ``release`` as of ``ref``, and the commit it names."""
        from migtool.django_adapter.origins import installed_distributions

        commit = self.repo.commit(ref)
        tree = self.repo.tree(commit)
        unreadable: dict[str, str] = {}
        apps = self._apps(tree, ref, unreadable)
        swappable = {d.setting for files in apps.values() for f in files.values() for d in _swappables(f.source)}
        installed = replace(self.installed, settings=_settings(swappable))
        while True:
            try:
                graph = build_graph(apps, installed)
                break
            except UnreadableSourceError as error:
                self._refuse_or_skip(error, ref, unreadable)
                apps.pop(error.details["app"])
        try:
            # Apps installed from distributions carry them, as in a freeze of the checkout.
            snapshot = freeze(graph, release, self.project.django_version, installed_distributions(graph.apps))
        except GraphConflictError as error:
            raise GraphConflictError(
                f"At {ref}: {error.message}",
                hint="That ref cannot be one release state; freeze the merge commit after it instead.",
                ref=ref,
                **error.details,
            ) from None
        source = {"git_ref": ref, "commit": commit}
        if self.external_mode == "current":
            source["external_apps"] = "current"
        external = () if self.external_mode == "current" else tuple(sorted(self.installed.external))
        return replace(snapshot, source=source, external=external, unreadable=unreadable), commit

    def _apps(self, tree: list[TreeEntry], ref: str, unreadable: dict[str, str]) -> dict[str, dict[str, SourceFile]]:
        """Each repository app's migration files at ``tree``, read and parsed, by label.

        An app whose folder has the same tree id as at an earlier ref is taken as
        it was read then: a backfill reads and parses only what changed.
        """
        folders = {e.path: e.oid for e in tree if e.mode == _TREE}
        pending = {
            label: folder
            for label, folder in self.folders.items()
            if folder in folders and (folder, folders[folder]) not in self._apps_read
        }
        by_folder: dict[str, list[TreeEntry]] = {folder: [] for folder in pending.values()}
        for entry in tree:  # a migrations package's files, and its sub-packages' __init__
            parent = entry.path.rpartition("/")[0]
            for folder in (parent, parent.rpartition("/")[0]):
                if folder in by_folder:
                    by_folder[folder].append(entry)
        listed = {
            label: migration_files(folder, [e for e in by_folder[folder] if e.mode not in (_TREE, _SUBMODULE)])
            for label, folder in pending.items()
        }
        contents = self.repo.read([e for f in listed.values() if f for e in f.values() if e.mode != _SYMLINK])
        for label, files in listed.items():
            folder = pending[label]
            self._apps_read[(folder, folders[folder])] = None if files is None else _read_app(label, files, contents)
        apps: dict[str, dict[str, SourceFile]] = {}
        for label, folder in self.folders.items():
            if folder not in folders:
                if renamed := _renamed_from(label, folders, set(self.folders.values())):
                    reason = (
                        f"app {label!r} keeps its migrations in {folder} today, which does not exist there, "
                        f"but {renamed} does: the app's folder was renamed since"
                    )
                    self._refuse_or_skip(UnreadableSourceError(reason, app=label, path=renamed), ref, unreadable)
                continue
            read = self._apps_read[(folder, folders[folder])]
            if isinstance(read, UnreadableSourceError):
                self._refuse_or_skip(read, ref, unreadable)
            elif read is not None:
                apps[label] = read
        return apps

    def _refuse_or_skip(self, error: UnreadableSourceError, ref: str, unreadable: dict[str, str]) -> None:
        path, app = error.details["path"], error.details["app"]
        if not self.skip_unreadable:
            raise UnreadableSourceError(
                error.reason,
                message=f"Cannot freeze {ref} from git: {path} (app {app!r}): {error.reason}.",
                hint="Freeze that ref from a checkout instead (git worktree add), or pass --skip-unreadable "
                "to write the release without this app (rollback then leaves the app alone).",
                app=app,
                path=path,
                ref=ref,
            ) from None
        unreadable[app] = f"{path}: {error.reason}"


def _inside(folder: Path, toplevel: Path) -> str | None:
    """``folder`` relative to the repository's top level, or None when it lies outside
    it or in an installed distribution (a virtualenv inside the work tree)."""
    resolved = folder.resolve()
    installed = {Path(p).resolve() for p in (*site.getsitepackages(), site.getusersitepackages())}
    installed |= {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    if any(resolved.is_relative_to(p) for p in installed) or not resolved.is_relative_to(toplevel):
        return None
    return resolved.relative_to(toplevel).as_posix()


def _renamed_from(label: str, folders: dict[str, str], mapped: set[str]) -> str | None:
    """A ``migrations`` folder at the ref that no app maps today, inside a folder named like
    the app's label: where an app whose folder is gone kept its migrations."""
    for folder in folders:
        parent, _, name = folder.rpartition("/")
        if name == "migrations" and parent.rpartition("/")[2] == label and folder not in mapped:
            return folder
    return None


def _read_app(
    label: str, files: dict[str, TreeEntry], contents: dict[str, bytes]
) -> dict[str, SourceFile] | UnreadableSourceError:
    """One app's migration files, parsed, or why the first unreadable one cannot be read."""
    read = {}
    for name, entry in files.items():
        parsed = _parse(entry, contents.get(entry.path))
        if isinstance(parsed, UnreadableSourceError):
            return UnreadableSourceError(parsed.reason, app=label, path=entry.path)
        read[name] = SourceFile(entry.path, *parsed)
    return read


def _parse(entry: TreeEntry, content: bytes | None) -> tuple[MigrationSource, str] | UnreadableSourceError:
    """What the file declares and its checksum, or why it cannot be read."""
    if entry.mode == _SYMLINK:
        return UnreadableSourceError("it is a symbolic link, which git stores as its target's path")
    if content is None or not entry.path.endswith(".py"):
        return UnreadableSourceError("it is not Python source (Django would import it as a compiled module)")
    try:
        return read_migration(content), hashlib.sha256(content).hexdigest()
    except UnreadableSourceError as error:
        return error


def _swappables(source: MigrationSource) -> list[Swappable]:
    return [d for d in (*source.dependencies, *source.run_before) if isinstance(d, Swappable)]


def _settings(names: set[str]) -> dict[str, object]:
    from migtool.django_adapter.app_folders import setting_values

    return setting_values(names) if names else {}


def freeze_from_git(
    project: Project,
    release: str,
    ref: str,
    *,
    force: bool = False,
    external: str = "unknown",
    skip_unreadable: bool = False,
) -> FreezeResult:
    """Write ``releases/<release>.json`` from the migrations as they are at git ``ref``."""
    check_release_name(release)
    freezer = GitFreezer(project, external=external, skip_unreadable=skip_unreadable)
    snapshot, _commit = freezer.snapshot(release, ref)
    return save_release(project, snapshot, force=force)


def release_namer(expression: str | None) -> Callable[[str], str]:
    """Turn ``--name-from-tag 's/^v//'`` (sed's ``s/REGEX/REPLACEMENT/``, any delimiter) into a function."""
    if expression is None:
        return lambda tag: tag
    match = re.fullmatch(r"s(.)(.*?)\1(.*?)\1", expression) if len(expression) > 1 else None
    try:
        pattern = re.compile(match.group(2)) if match else None
    except re.error as exc:
        raise InputError(f"--name-from-tag {expression!r}: {exc}.", hint="Write it as 's/^v//'.") from None
    if match is None or pattern is None:
        raise InputError(
            f"--name-from-tag {expression!r} is not of the form s/REGEX/REPLACEMENT/.", hint="For example 's/^v//'."
        )
    replacement = re.sub(r"\\(\d)", r"\\g<\1>", match.group(3))
    return lambda tag: pattern.sub(replacement, tag, count=1)


def freeze_git_tags(
    project: Project,
    pattern: str,
    *,
    name_from_tag: str | None = None,
    force: bool = False,
    external: str = "unknown",
    skip_unreadable: bool = False,
) -> list[TagFreeze]:
    """Freeze every tag matching ``pattern``; tags whose release exists are skipped unless ``force``.

    All-or-nothing: every tag is read and checked before any file is written,
    so a refusal for one tag writes nothing.
    """
    name = release_namer(name_from_tag)
    freezer = GitFreezer(project, external=external, skip_unreadable=skip_unreadable)
    tags = freezer.repo.tags(pattern)
    releases: dict[str, str] = {}
    for tag in tags:
        release = name(tag)
        try:
            check_release_name(release)
        except InputError as error:
            raise InputError(f"Tag {tag!r} gives {error.message}", hint=error.hint) from None
        if release in releases:
            raise InputError(
                f"Tags {releases[release]!r} and {tag!r} both give release {release!r}.",
                hint="Narrow the tag pattern or change --name-from-tag.",
            )
        releases[release] = tag
    planned = []
    for release, tag in releases.items():
        if force or not project.store.exists(release):
            snapshot, commit = freezer.snapshot(release, tag)
            planned.append(TagFreeze(tag, release, commit, snapshot, project.store.path(release)))
        else:
            planned.append(TagFreeze(tag, release, freezer.repo.commit(tag), None, project.store.path(release)))
    for done in planned:
        if done.snapshot is not None:
            project.store.save(done.snapshot)
    return planned
