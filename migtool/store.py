"""Release files on disk: ``<releases dir>/<release>.json``.

The store is the only code that reads or writes release files.  Names are
validated before any path is built, so nothing outside the directory is
ever touched.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from migtool.core.snapshot import RELEASE_NAME, ReleaseSnapshot, check_release_name, parse_snapshot, release_sort_key
from migtool.errors import MalformedReleaseError, UnknownReleaseError


class ReleaseStore:
    """Read and write release snapshots in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, release: str) -> Path:
        return self.directory / f"{check_release_name(release)}.json"

    def names(self) -> list[str]:
        """Return the known release names, newest first (version-aware order)."""
        if not self.directory.is_dir():
            return []
        # Only files named like a release are releases; anything else there is not ours.
        names = [p.stem for p in self.directory.glob("*.json") if RELEASE_NAME.fullmatch(p.stem)]
        return sorted(names, key=release_sort_key, reverse=True)

    def exists(self, release: str) -> bool:
        return self.path(release).is_file()

    def load(self, release: str, only_apps: Collection[str] | None = None) -> ReleaseSnapshot:
        """Return the snapshot of ``release`` (an excerpt with ``only_apps``, see
        ``parse_snapshot``); raise ``UnknownReleaseError`` if there is no file."""
        path = self.path(release)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none"
            raise UnknownReleaseError(
                f"Unknown release {release!r} (no {path}). Known releases: {known}.",
                hint=f"Run 'migtool freeze --release {release}' on the release's commit, or pass --releases-dir.",
                release=release,
            ) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedReleaseError(
                f"Malformed release file {path}: not UTF-8 text.",
                hint="Restore it from version control.",
                path=str(path),
            ) from None
        return parse_snapshot(text, release, str(path), only_apps)

    def save(self, snapshot: ReleaseSnapshot) -> Path:
        """Write ``snapshot`` atomically (temporary file, then rename); return its path."""
        path = self.path(snapshot.release)
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(snapshot.to_json(), encoding="utf-8")
        temporary.replace(path)
        return path
