"""Pure core tests: no Django, no database, no files.

The ``ci`` Hypothesis profile keeps property tests bounded (CI machines have
two cores) and is loaded unless ``HYPOTHESIS_PROFILE`` names another one
(e.g. ``HYPOTHESIS_PROFILE=dev`` from ``tests/conftest.py`` for longer runs).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _django_modules() -> set[str]:
    return {name for name in sys.modules if name == "django" or name.startswith("django.")}


@pytest.fixture(autouse=True, scope="module")
def _no_django_imported() -> Iterator[None]:
    """Fail a core test module that imports Django (the core must not need it)."""
    before = _django_modules()
    yield
    imported = sorted(_django_modules() - before)
    assert not imported, f"core tests imported Django modules: {imported[:5]}"
