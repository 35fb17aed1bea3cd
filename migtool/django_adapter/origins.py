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
    by_package = metadata.packages_distributions()
    found = {}
    for app in apps:
        module_name, _ = MigrationLoader.migrations_module(app)
        path = getattr(sys.modules.get(module_name or ""), "__file__", None)
        if path is None:
            continue
        for name in by_package.get(module_name.partition(".")[0], ()):
            distribution = _owning(name, Path(path).resolve())
            if distribution is not None:
                found[app] = distribution
                break
    return found


def _owning(name: str, path: Path) -> Distribution | None:
    """Return distribution ``name`` if its installed files include ``path``."""
    root, files = _installed_files(name)
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        return None
    if relative not in files:
        return None
    dist = metadata.distribution(name)
    return Distribution(dist.metadata["Name"], dist.version)


@cache
def _installed_files(name: str) -> tuple[Path, frozenset[str]]:
    """The directory a distribution's ``RECORD`` paths are relative to, and those paths."""
    dist = metadata.distribution(name)
    root = Path(str(dist.locate_file(""))).resolve()
    return root, frozenset(file.as_posix() for file in dist.files or ())
