"""The user's Django project as the use cases see it: settings, releases, graph, set up lazily."""

from __future__ import annotations

import gc
import os
from collections.abc import Collection
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migtool.core.graph import ProjectGraph
from migtool.core.origins import Ownership
from migtool.core.snapshot import (
    ReleaseSnapshot,
    freeze,
    resolve_legacy,
)
from migtool.django_adapter import bootstrap
from migtool.errors import MalformedReleaseError
from migtool.store import ReleaseStore

if TYPE_CHECKING:
    from migtool.django_adapter.stored_loader import Injection

NOW = "(disk)"


class Project:
    """The user's Django project: set up on first use, never at import time.

    ``releases_dir`` wins over ``MIGTOOL_RELEASES_DIR``, which wins over
    ``settings.MIGTOOL_RELEASES_DIR``; the default is ``releases/`` in the
    current directory.
    """

    def __init__(
        self, *, settings: str | None = None, pythonpath: str | None = None, releases_dir: str | None = None
    ) -> None:
        self.settings = settings
        self.pythonpath = pythonpath
        self.releases_dir = releases_dir
        self._ready = False
        self.stored: Injection | None = None

    def setup(self) -> None:
        if not self._ready:
            bootstrap.setup(self.settings, self.pythonpath)
            self._ready = True

    @cached_property
    def store(self) -> ReleaseStore:
        directory = self.releases_dir or os.environ.get("MIGTOOL_RELEASES_DIR")
        if not directory:
            bootstrap.add_to_path(self.pythonpath)
            if bootstrap.settings_module(self.settings):
                directory = bootstrap.read_setting("MIGTOOL_RELEASES_DIR")  # type: ignore[assignment]
        return ReleaseStore(Path(directory or "releases"))

    @cached_property
    def graph(self) -> ProjectGraph:
        from migtool.django_adapter.loader import load_graph

        self.setup()
        graph = load_graph()
        # Settings, models, migration modules and this graph live until the command
        # exits: frozen, they are not scanned again by every later garbage collection
        # (parsing release files and rendering states set off many).
        gc.freeze()
        return graph

    def load_stored_sources(self, connection: Any) -> Injection:
        """Make the graph include the applied migrations of this database that are gone
        from disk but whose source it stores (a rollback after a code downgrade).

        Imports those sources, runs none of their operations, writes nothing.
        The graph is per database: when another database (a fleet's next target)
        needs other stored migrations, it is built again.
        """
        from migtool.django_adapter.stored_loader import inject

        before = self.stored.fingerprint if self.stored is not None else frozenset()
        self.stored = inject(connection)
        if self.stored.fingerprint != before:
            self.__dict__.pop("graph", None)
        return self.stored

    @cached_property
    def ownership(self) -> Ownership:
        """Which apps' migrations are installed distributions' files, and the MIGTOOL_DRIFT policy."""
        from migtool.django_adapter.origins import load_ownership

        return load_ownership(self.graph.apps)

    @property
    def django_version(self) -> str:
        import django

        return django.get_version()

    def load_release(self, release: str, only_apps: Collection[str] | None = None) -> ReleaseSnapshot:
        """Return a release's snapshot, completing a legacy file against the code on disk."""
        snapshot = self.store.load(release, only_apps)
        return resolve_legacy(snapshot, self.graph) if snapshot.legacy else snapshot

    def readable_releases(
        self, only_apps: Collection[str] | None = None
    ) -> tuple[list[ReleaseSnapshot], dict[str, MalformedReleaseError]]:
        """Return every known release that can be read, and for each file that
        cannot, its error: one broken file must not break commands that do not
        name its release (they report it instead)."""
        readable, broken = [], {}
        for name in self.store.names():
            try:
                readable.append(self.load_release(name, only_apps))
            except MalformedReleaseError as error:
                broken[name] = error
        return readable, broken

    def disk_snapshot(self, name: str = NOW) -> ReleaseSnapshot:
        """Return what a release frozen now would contain."""
        return freeze(self.graph, name, self.django_version, self.ownership.installed)
