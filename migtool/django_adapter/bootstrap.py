"""Find and set up the user's Django project the way ``manage.py`` does."""

from __future__ import annotations

import os
import sys

from migtool.errors import ConfigurationError


def add_to_path(pythonpath: str | None) -> None:
    """Put ``--pythonpath`` and the current directory on ``sys.path``, as ``manage.py`` runs from there."""
    for entry in (os.getcwd(), pythonpath):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)


def settings_module(settings: str | None) -> str | None:
    """Return the settings module to use: ``--settings``, else ``DJANGO_SETTINGS_MODULE``."""
    if settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings
    return os.environ.get("DJANGO_SETTINGS_MODULE") or None


def read_setting(name: str) -> object:
    """Return a setting's value (``None`` if unset) without setting up the apps.

    Importing the settings module is cheap; ``django.setup()`` is not, and
    commands such as ``diff`` must not pay for it.
    """
    from django.conf import settings

    try:
        return getattr(settings, name, None)
    except ImportError as exc:
        raise _not_importable(exc) from None


def setup(settings: str | None, pythonpath: str | None) -> None:
    """Import the settings and load the apps; raise ``ConfigurationError`` if that fails."""
    add_to_path(pythonpath)
    module = settings_module(settings)
    if module is None:
        raise ConfigurationError(
            "No Django settings module given.",
            hint="Pass --settings mysite.settings or set DJANGO_SETTINGS_MODULE "
            "(and --pythonpath if the project is not in the current directory).",
        )
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImportError as exc:
        raise _not_importable(exc) from None
    except ImproperlyConfigured as exc:
        raise ConfigurationError(f"Django is not configured correctly: {exc}") from None


def _not_importable(exc: ImportError) -> ConfigurationError:
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    return ConfigurationError(
        f"Cannot import the settings module {module!r} or something it needs: {exc}.",
        hint="Check --settings / DJANGO_SETTINGS_MODULE and run migtool from the project "
        "directory or pass --pythonpath.",
        settings=module,
    )
