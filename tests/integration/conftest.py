"""Fixtures for integration tests: real Django projects on real databases.

See ``projects.py`` for why everything Django-side runs in subprocesses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import ProjectFactory


@pytest.fixture
def make_project(tmp_path: Path, backend: str) -> Iterator[ProjectFactory]:
    """Factory ``make_project(apps, backend=None, extra_settings="") -> Project``.

    Each call writes a project under ``tmp_path`` with a database of its own
    (default: this test's ``backend``); every server database is dropped at
    teardown, so runs leave nothing behind on PostgreSQL/MariaDB.
    """
    factory = ProjectFactory(tmp_path, backend)
    yield factory
    factory.close()
