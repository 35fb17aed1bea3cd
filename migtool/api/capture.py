"""The capture use case: store the source of every applied migration in the database.

``migrate-safe`` stores what it applies; this covers what was applied some
other way (plain ``manage.py migrate``, before migtool was used), so that a
rollback after a code downgrade can still load it (``stored_loader``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from migtool.api.project import Project
from migtool.core.stored import recorded_nodes

if TYPE_CHECKING:
    from migtool.django_adapter.stored_sources import CaptureResult


def capture_sources(project: Project, database: str) -> CaptureResult:
    """Store the source file of every migration on disk that ``database`` has applied.

    Writes only ``migtool_source`` (created on first use), never
    ``django_migrations``.  A migration whose stored source differs from its
    file keeps the stored one and is reported.  Call it inside ``exclusive``.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.loader import load_recorded
    from migtool.django_adapter.stored_sources import capture

    project.setup()
    connection = get_connection(database)
    recorded = frozenset(load_recorded(connection))
    return capture(connection, recorded_nodes(project.graph, recorded), replace_known=False)
