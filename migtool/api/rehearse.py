"""Use cases that rehearse a plan exactly: ``rollback --rehearse``, ``migrate-safe --plan --rehearse``.

The pre-flight predicts; a rehearsal runs the plan for real in one
transaction and rolls it back (``migtool.django_adapter.rehearsal``).  These
functions refuse where that could not be exact, instead of pretending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from migtool.api.migrate import MigratePreview
from migtool.api.rollback import RollbackPreview
from migtool.errors import RehearsalRefusedError

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Observer
    from migtool.django_adapter.rehearsal import Rehearsal

_HINT = (
    "Run the pre-flight without --rehearse, or rehearse on a copy of the database with 'migtool verify' "
    "(a scratch database: it may take any lock)."
)


def rehearse_rollback(
    preview: RollbackPreview, timeout: float, observer: Observer, *, fast_path: bool = True
) -> Rehearsal:
    """Run the previewed rollback inside one transaction, roll it back, and say what happened.

    Call it inside the ``exclusive`` block the preview was made in.  Raises
    ``RehearsalRefusedError`` where the rehearsal could not be exact.  ``fast_path``
    as for ``execute_rollback``.
    """
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.rehearsal import refusal, rehearse

    connection = get_connection(preview.database)
    why = refusal(connection, preview.checks)
    if why:
        raise RehearsalRefusedError(
            f"Cannot rehearse the rollback to {preview.plan.release} on {preview.database!r} exactly: {why}. "
            "Nothing ran.",
            hint=_HINT,
        )
    return rehearse(connection, preview.batch(fast_path), timeout, observer, preview.prepared)


def rehearse_migrate(preview: MigratePreview, timeout: float, observer: Observer) -> Rehearsal:
    """Apply the previewed batch inside one transaction, roll it back, and say what happened."""
    from migtool.django_adapter.connection import get_connection, sqlite_file_missing
    from migtool.django_adapter.rehearsal import refusal, rehearse

    if sqlite_file_missing(preview.database):
        raise RehearsalRefusedError(
            f"Cannot rehearse on {preview.database!r}: its SQLite file does not exist yet, and a rehearsal "
            "must leave the database exactly as it was. Nothing ran.",
            hint="Create the database first ('migtool migrate-safe' does), or plan without --rehearse.",
        )
    connection = get_connection(preview.database)
    why = refusal(connection, preview.checks)
    if why:
        raise RehearsalRefusedError(
            f"Cannot rehearse the migration of {preview.database!r} exactly: {why}. Nothing ran.", hint=_HINT
        )
    return rehearse(connection, preview.batch(), timeout, observer)
