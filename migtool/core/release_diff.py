"""How two release snapshots differ: the migrations added, removed and edited per app.

Kept apart from ``snapshot`` (what a release *is*, and its file format)
because comparing releases has rules of its own: legacy files that cannot be
compared, apps a release did not freeze, and squashes that only re-spell
migrations the old release already had.
"""

from __future__ import annotations

from dataclasses import dataclass

from migtool.core.graph import MigrationKey
from migtool.core.origins import Distribution
from migtool.core.snapshot import AppSnapshot, ReleaseSnapshot


@dataclass(frozen=True)
class AppDiff:
    """What changed in one app between two releases.  ``old_distribution`` and
    ``new_distribution`` say which installed distribution the app's migrations
    came from on each side (None: the project's own, or not recorded)."""

    app: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    edited: tuple[str, ...]
    old_distribution: Distribution | None = None
    new_distribution: Distribution | None = None
    squashed: tuple[tuple[str, int], ...] = ()  # (squash, how many it replaces): re-spellings only

    @property
    def changes_migrations(self) -> bool:
        """Something a database would have to apply or unapply; a re-spelling alone is not."""
        return bool(self.added or self.removed or self.edited)

    @property
    def upstream(self) -> bool:
        """The app's migrations are an installed distribution's files, not the project's."""
        return self.old_distribution is not None or self.new_distribution is not None


@dataclass(frozen=True)
class ReleaseDiff:
    """The differences between an old and a new release, per app with changes."""

    old: str
    new: str
    apps: tuple[AppDiff, ...]
    unverified: tuple[str, ...] = ()
    not_compared: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        """Migrations were added, removed or edited (what ``diff --check`` fails on);
        a squash that only re-spells migrations the old release had is not a change."""
        return any(a.changes_migrations for a in self.apps)


def diff(old: ReleaseSnapshot, new: ReleaseSnapshot) -> ReleaseDiff:
    """Return the migrations added, removed and edited (checksum changed) from ``old`` to ``new``.

    The comparison is squash-free.  A squash new in ``new`` whose replaced
    migrations the old release all had (as migrations, or replaced by one of
    its squashes) only re-spells them: it is listed in ``squashed``, not
    ``added``, and the originals it replaces that were deleted from disk are
    not ``removed``.  An original on disk in both releases whose file changed
    is still ``edited``: databases that applied it before the squash ran it.

    A migration present in both whose checksum is unknown on either side (a
    legacy file) cannot be compared; such releases are listed in ``unverified``.
    Apps that either release did not freeze (``not_frozen``) are listed in
    ``not_compared``, not reported as added or removed.
    """
    apps: list[AppDiff] = []
    unknown = old.not_frozen | new.not_frozen
    old_keys = old.keys()
    old_covered = old_keys | {key for replaced in old.replaces().values() for key in replaced}
    respelled = {
        squash: replaced
        for squash, replaced in new.replaces().items()
        if squash not in old_keys and set(replaced) <= old_covered
    }
    replaced_by_new = {key for replaced in new.replaces().values() for key in replaced}
    for app in sorted((set(old.apps) | set(new.apps)) - unknown):
        before = old.apps.get(app, AppSnapshot((), ()))
        after = new.apps.get(app, AppSnapshot((), ()))
        common = sorted(set(before.migrations) & set(after.migrations))
        edited = tuple(
            m
            for m in common
            if m in before.checksums and m in after.checksums and before.checksums[m] != after.checksums[m]
        )
        new_names = set(after.migrations) - set(before.migrations)
        squashed = tuple(
            (m, len(respelled[MigrationKey(app, m)])) for m in sorted(new_names) if MigrationKey(app, m) in respelled
        )
        added = tuple(sorted(new_names - {m for m, _ in squashed}))
        removed = tuple(
            sorted(
                m for m in set(before.migrations) - set(after.migrations) if MigrationKey(app, m) not in replaced_by_new
            )
        )
        if added or removed or edited or squashed:
            apps.append(AppDiff(app, added, removed, edited, before.distribution, after.distribution, squashed))
    unverified = tuple(s.release for s in (old, new) if s.legacy)
    return ReleaseDiff(old.release, new.release, tuple(apps), unverified, tuple(sorted(unknown)))
