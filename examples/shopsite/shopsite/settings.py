"""Settings for the shopsite example project.

The database is chosen from the environment so the same migrations can be
exercised on every backend migtool supports:

* ``DATABASE_URL`` unset: SQLite at ``db.sqlite3`` next to ``manage.py``,
  or at ``$SHOPSITE_SQLITE_PATH`` if that is set.
* ``DATABASE_URL=postgres://user:pw@host:port/name`` (or ``postgresql://``).
* ``DATABASE_URL=mysql://user:pw@host:port/name`` (MySQL or MariaDB).
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

# Only for the example; never deployed.
SECRET_KEY = "shopsite-example-not-secret"
DEBUG = True
ALLOWED_HOSTS: list[str] = []

# Kept deliberately small: contenttypes (so post_migrate has something to do)
# plus the three apps whose migration history RELEASES.md documents.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "catalog",
    "orders",
    "billing",
]

ROOT_URLCONF = "shopsite.urls"

_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
}


def database_from_url(url: str) -> dict:
    """Turn ``scheme://user:password@host:port/name`` into a DATABASES entry.

    A tiny stand-in for dj-database-url so the example has no extra
    dependency. User, password and name are percent-decoded; host and port
    may be omitted to use the driver's defaults.
    """
    parts = urlsplit(url)
    try:
        engine = _ENGINES[parts.scheme]
    except KeyError:
        raise ValueError(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; "
            f"use one of {sorted(_ENGINES)}"
        ) from None
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ValueError("DATABASE_URL must name a database, e.g. postgres://host/shopsite")
    return {
        "ENGINE": engine,
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SHOPSITE_SQLITE_PATH") or BASE_DIR / "db.sqlite3",
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
