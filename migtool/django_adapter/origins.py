"""Find which apps' migrations are files of an installed distribution.

Why: a package upgrade may rewrite the package's own old migrations, which the
project can neither restore nor re-freeze honestly (see ``migtool.core.origins``).
An app counts as installed when its migrations package is one of the files a
distribution's ``RECORD`` lists, as pip writes it.  So an editable install of
the project itself (``pip install -e .``, whose ``RECORD`` lists no source
files) stays the project's own, and so does code on ``sys.path`` without a
distribution.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

from django.db.migrations.loader import MigrationLoader

from migtool.core.origins import Distribution, Ownership, check_policy
from migtool.django_adapter.bootstrap import read_setting


def load_ownership(apps: Iterable[str]) -> Ownership:
    """Return where each of ``apps``' migrations come from, with ``settings.MIGTOOL_DRIFT``."""
    return Ownership(installed=installed_distributions(apps), policy=check_policy(read_setting("MIGTOOL_DRIFT")))


def installed_distributions(apps: Iterable[str]) -> dict[str, Distribution]:
    """Return, for each app label whose migrations an installed distribution ships, that distribution."""
    found = {}
    for app in apps:
        try:
            module_name, _ = MigrationLoader.migrations_module(app)
        except LookupError:  # not installed: a migration loaded from a stored source (issue 11)
            continue
        try:  # where the migrations package is, without importing it or its migrations
            spec = importlib.util.find_spec(module_name) if module_name else None
        except ImportError:
            spec = None
        path = spec.origin if spec is not None else None
        if path and (distribution := _owning(Path(path).resolve())) is not None:
            found[app] = distribution
    return found


def _owning(path: Path) -> Distribution | None:
    """Return the distribution whose ``RECORD``, in a ``sys.path`` directory above ``path``, lists it."""
    for entry in sys.path:
        root = Path(entry or ".").resolve()
        if root in path.parents and (info := _recorded_files(root).get(path.relative_to(root).as_posix())):
            dist = metadata.Distribution.at(info)
            return Distribution(dist.metadata["Name"], dist.version)
    return None


@cache
def _recorded_files(root: Path) -> dict[str, Path]:
    """Every file the ``*.dist-info/RECORD`` files in ``root`` list, to its ``.dist-info`` directory.

    Read as text: building ``importlib.metadata``'s file objects for every
    distribution took seconds on a wagtail site, this takes milliseconds.
    """
    files: dict[str, Path] = {}
    # Oldest first, so that when a stale .dist-info (pip --target leaves the old
    # version's) lists the same file, the most recently installed one wins.
    for info in sorted(root.glob("*.dist-info"), key=lambda info: (info.stat().st_mtime, info.name)):
        try:
            record = (info / "RECORD").read_text(encoding="utf-8")
        except OSError:
            continue
        for line in record.splitlines():
            files[line.rsplit(",", 2)[0]] = info
    return files
