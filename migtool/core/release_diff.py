"""How two release snapshots differ: the migrations added, removed and edited per app.

Kept apart from ``snapshot`` (what a release *is*, and its file format)
because comparing releases has rules of its own: legacy files that cannot be
compared, apps a release did not freeze, and squashes that only re-spell
migrations the old release already had.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        return bool(self.apps)


def diff(old: ReleaseSnapshot, new: ReleaseSnapshot) -> ReleaseDiff:
    """Return the migrations added, removed and edited (checksum changed) from ``old`` to ``new``.

    A migration present in both whose checksum is unknown on either side (a
    legacy file) cannot be compared; such releases are listed in ``unverified``.
    Apps that either release did not freeze (``not_frozen``) are listed in
    ``not_compared``, not reported as added or removed.
    """
    apps: list[AppDiff] = []
    unknown = old.not_frozen | new.not_frozen
    for app in sorted((set(old.apps) | set(new.apps)) - unknown):
        before = old.apps.get(app, AppSnapshot((), ()))
        after = new.apps.get(app, AppSnapshot((), ()))
        common = sorted(set(before.migrations) & set(after.migrations))
        edited = tuple(
            m
            for m in common
            if m in before.checksums and m in after.checksums and before.checksums[m] != after.checksums[m]
        )
        added = tuple(sorted(set(after.migrations) - set(before.migrations)))
        removed = tuple(sorted(set(before.migrations) - set(after.migrations)))
        if added or removed or edited:
            apps.append(AppDiff(app, added, removed, edited, before.distribution, after.distribution))
    unverified = tuple(s.release for s in (old, new) if s.legacy)
    return ReleaseDiff(old.release, new.release, tuple(apps), unverified, tuple(sorted(unknown)))
