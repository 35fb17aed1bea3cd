"""The store of applied migrations' source code, in the database itself.

A deploy rollback (``kubectl rollout undo``, a blue/green switch) starts the
*older* code next to a database that still has the newer release's migrations
applied; their files are gone, and so is every way to unapply them.  The
database is the one place both the newer and the older code reach, so every
migtool run that applies migrations stores their exact source bytes in it
(``capture``), and ``stored_loader`` brings them back as graph nodes.

The table ``migtool_source`` is content-addressed: one row per
``(app, name, sha256)``, so an edited migration adds a variant instead of
overwriting the one that ran.  Like the journal it belongs to a floating
model, is created on the first write and never by a read.  Capturing never
touches ``django_migrations``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from migtool.core.graph import MigrationKey
from migtool.django_adapter.tables import table_exists

# Version 1: ``source`` holds the bytes of the migration module's file, unchanged.
FORMAT_VERSION = 1


def _model() -> Any:
    """Build the model once per process (it needs Django set up)."""
    global _MODEL
    if _MODEL is None:
        from django.apps.registry import Apps
        from django.db import models

        class Source(models.Model):
            app = models.CharField(max_length=255)
            name = models.CharField(max_length=255)
            sha256 = models.CharField(max_length=64)
            source = models.BinaryField()
            format_version = models.IntegerField(default=FORMAT_VERSION)
            stored_at = models.DateTimeField()

            class Meta:
                apps = Apps()
                app_label = "migtool"
                db_table = "migtool_source"
                unique_together = [("app", "name", "sha256")]

        _MODEL = Source
    return _MODEL


_MODEL: Any = None


@dataclass(frozen=True)
class SourceFile:
    """The exact bytes of one migration's source, and their sha256."""

    key: MigrationKey
    source: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source).hexdigest()


class SourceStore:
    """Read and write the stored sources of one database connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.Source = _model()

    @property
    def _rows(self) -> Any:
        return self.Source.objects.using(self.connection.alias)

    def has_table(self) -> bool:
        return table_exists(self.connection, self.Source._meta.db_table)

    def variants(self) -> dict[MigrationKey, tuple[str, ...]]:
        """Return, per stored migration, the sha256 of every source stored for it,
        oldest first; read-only (no table, nothing stored)."""
        if not self.has_table():
            return {}
        variants: dict[MigrationKey, list[str]] = {}
        for app, name, sha in self._rows.order_by("stored_at", "pk").values_list("app", "name", "sha256"):
            variants.setdefault(MigrationKey(app, name), []).append(sha)
        return {key: tuple(shas) for key, shas in variants.items()}

    def latest(self, keys: Iterable[MigrationKey]) -> dict[MigrationKey, SourceFile]:
        """Return the most recently stored source of each of ``keys`` that has one."""
        wanted = set(keys)
        if not wanted or not self.has_table():
            return {}
        found: dict[MigrationKey, SourceFile] = {}
        rows = self._rows.filter(app__in={k.app_label for k in wanted}).order_by("stored_at", "pk")
        for app, name, source, version in rows.values_list("app", "name", "source", "format_version"):
            key = MigrationKey(app, name)
            if key in wanted and version == FORMAT_VERSION:
                found[key] = SourceFile(key, bytes(source))
        return found

    def store(self, files: Iterable[SourceFile]) -> int:
        """Store the sources not stored yet (creating the table first); return how many."""
        from django.db import transaction

        from migtool.django_adapter.journal import now

        files = list(files)
        if not files:
            return 0
        self.ensure_schema()
        known = {
            (MigrationKey(app, name), sha)
            for app, name, sha in self._rows.filter(sha256__in={f.sha256 for f in files}).values_list(
                "app", "name", "sha256"
            )
        }
        new = {(f.key, f.sha256): f for f in files if (f.key, f.sha256) not in known}
        moment = now()
        with transaction.atomic(using=self.connection.alias):
            self._rows.bulk_create(
                self.Source(app=f.key.app_label, name=f.key.name, sha256=f.sha256, source=f.source, stored_at=moment)
                for f in new.values()
            )
        return len(new)

    def ensure_schema(self) -> None:
        if not self.has_table():
            with self.connection.schema_editor() as editor:
                editor.create_model(self.Source)


def source_file(key: MigrationKey, migration: Any) -> SourceFile | None:
    """Return the source file of a migration loaded from disk, or None when it has
    none to store (a stored migration, or a module without a ``.py`` file)."""
    path = getattr(sys.modules.get(type(migration).__module__), "__file__", None)
    if not path or not path.endswith(".py"):
        return None
    with open(path, "rb") as handle:
        return SourceFile(key, handle.read())


@dataclass(frozen=True)
class CaptureResult:
    """What ``capture`` did: sources newly stored, sources already there, and
    migrations left out because the stored source differs from the file (drift)."""

    stored: int
    already: int
    differing: tuple[MigrationKey, ...]
    warnings: tuple[str, ...] = ()


def capture(connection: Any, keys: Iterable[MigrationKey], *, replace_known: bool) -> CaptureResult:
    """Store the source of each of ``keys`` that is loaded from a file on disk.

    With ``replace_known`` false (``migtool capture``: the file may not be what
    ran), a migration that already has a stored source gets no new variant;
    one whose stored sources all differ from the file is reported in
    ``differing``.  With it true (migtool just applied the file), the file's
    source is added as a variant if it is new.
    """
    from migtool.django_adapter.loader import FilesReadOnceLoader

    disk = FilesReadOnceLoader.disk_files()
    store = SourceStore(connection)
    known = store.variants()
    files, already, differing, warnings = [], 0, [], []
    for key in sorted(set(keys)):
        migration = disk.get(tuple(key))
        found = source_file(key, migration) if migration is not None else None
        if found is None:
            continue
        if found.sha256 in known.get(key, ()):
            already += 1
        elif key in known and not replace_known:
            differing.append(key)
            warnings.append(
                f"{key}: the file on disk differs from the source stored when it was applied; not stored "
                "('migtool doctor --database' reports it as drift)."
            )
        else:
            files.append(found)
    return CaptureResult(store.store(files), already, tuple(differing), tuple(warnings))


def capture_applied_steps(
    connection: Any, steps: Iterable[MigrationKey], recorded: Collection[MigrationKey] | None = None
) -> list[str]:
    """After a run: store the sources of the ``steps`` now applied, and of the
    squashes they completed (Django records those rows itself).  ``recorded``
    are the rows of ``django_migrations`` just read back, if the caller has them.

    Never raises: a migrate must not fail because its sources could not be
    stored.  Returns warnings instead.
    """
    from migtool.django_adapter.loader import FilesReadOnceLoader, load_recorded

    try:
        recorded = set(load_recorded(connection) if recorded is None else recorded)
        steps = {k for k in steps if k in recorded}
        squashes = {
            MigrationKey(*key)
            for key, migration in FilesReadOnceLoader.disk_files().items()
            if key in recorded and steps & {MigrationKey(*r) for r in migration.replaces}
        }
        return list(capture(connection, steps | squashes, replace_known=True).warnings)
    except Exception as exc:  # reported as a warning: the run itself is already complete
        return [
            f"the sources of the migrations this run applied could not be stored in the database "
            f"({type(exc).__name__}: {exc}); a rollback after a code downgrade will not find them. "
            "Run 'migtool capture' once the cause is fixed."
        ]
