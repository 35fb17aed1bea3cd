"""Where each installed app keeps its migrations, from today's app configs, without importing them.

Why: a release frozen from a git ref reads each app's migrations package at
that ref, so it needs the folder Django's loader would import for each app
label: ``MIGRATION_MODULES`` first (``None`` disables an app's migrations),
else ``<AppConfig.name>.migrations``, with the label (not the folder name)
as the app's identity.  Only packages above the migrations package are
located (``find_spec`` imports parents, which ``django.setup()`` has already
imported for app modules); the migrations themselves are never imported.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AppFolder:
    """An installed app's migrations package: ``folder`` is None when
    ``MIGRATION_MODULES`` disables it or its parent package cannot be found."""

    label: str
    module: str | None
    folder: Path | None

    @property
    def has_migrations_today(self) -> bool:
        """Whether the package exists today as a regular package (as Django requires)."""
        return self.folder is not None and any(self.folder.glob("__init__.*"))


def migration_folders() -> list[AppFolder]:
    """Return every installed app's migrations folder, in ``INSTALLED_APPS`` order."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    folders = []
    for config in apps.get_app_configs():
        module, _explicit = MigrationLoader.migrations_module(config.label)
        if module is None:
            folders.append(AppFolder(config.label, None, None))
        elif module == f"{config.name}.migrations":
            folders.append(AppFolder(config.label, module, Path(config.path) / "migrations"))
        else:
            folders.append(AppFolder(config.label, module, _package_folder(module)))
    return folders


def _package_folder(module: str) -> Path | None:
    """The folder package ``module`` would be imported from (it need not exist)."""
    parent, _, last = module.rpartition(".")
    if not parent:
        spec = importlib.util.find_spec(module)
        locations = list(spec.submodule_search_locations or []) if spec else []
        return Path(locations[0]) if locations else None
    try:
        spec = importlib.util.find_spec(parent)
    except ImportError:
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / last if locations else None


def setting_values(names: set[str]) -> dict[str, object]:
    """The value of each setting in ``names`` (``None`` when unset), for ``swappable_dependency``."""
    from django.conf import settings

    return {name: getattr(settings, name, None) for name in sorted(names)}
