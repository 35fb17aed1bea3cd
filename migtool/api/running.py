"""Running a batch under the lock and the journal, shared by rollback and migrate-safe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from migtool.api.project import Project
from migtool.errors import (
    ExecutionError,
    RestoreFailedError,
)

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Batch, Observer, StepEvent
    from migtool.django_adapter.plans import Prepared


@contextmanager
def exclusive(
    project: Project, database: str, lock_timeout: float, *, create: bool = False, scope: str | None = None
) -> Iterator[None]:
    """Hold the database's migtool lock for a whole command: planning, checks,
    confirmation and execution, so nothing is planned against a database that
    another run is changing.  Raises ``LockHeldError`` after ``lock_timeout``.

    ``scope`` (a schema) locks only that part of the database, for fleet targets."""
    from django.db import connections

    from migtool.django_adapter.connection import get_connection, sqlite_file_missing
    from migtool.django_adapter.journal import RUNNING, Journal
    from migtool.django_adapter.lock import migration_lock

    project.setup()
    if not create and database in connections.settings and sqlite_file_missing(database):
        # Nothing exists that another run could change, and the lock file would be created.
        yield
        return
    connection = get_connection(database, create=create)

    def holder() -> str:
        running = [r for r in Journal(connection).runs(5, lock_free=False) if r.status == RUNNING]
        return running[0].describe() if running else "a run that has not journaled yet"

    with migration_lock(connection, lock_timeout, holder, scope):
        yield


def run_journaled(
    connection: Any,
    batch: Batch,
    observer: Observer,
    *,
    command: str,
    release: str | None,
    warn: Callable[[str], None],
    prepared: Prepared | None = None,
    fleet_run: str | None = None,
) -> int:
    """Run ``batch`` recorded in the journal; return the run id.  Call it inside ``exclusive``.

    ``fleet_run`` is stored on the run's row when it is part of a fleet run.

    Afterwards the sources of the migrations the run left applied are stored in
    the database (the batch's own, or a failed rollback's re-applied steps), so
    a rollback after a code downgrade can load them.  Storing them never fails
    the run: problems are passed to ``warn``.
    """
    from django.db import connections

    from migtool.django_adapter.executor import run_batch
    from migtool.django_adapter.journal import FAILED, RESTORED, SUCCEEDED, Journal, StepLog
    from migtool.django_adapter.stored_sources import capture_applied_steps

    journal = Journal(connection)
    run_id = journal.begin(command, release, "backwards" if batch.backwards else "forwards", fleet_run)
    log = StepLog(journal, run_id, backwards=batch.backwards, live=not batch.in_one_transaction)

    def observe(event: StepEvent) -> None:
        observer(event)
        log(event)

    try:
        recorded = run_batch(connection, batch, observe, prepared)
    except ExecutionError as exc:
        journal = Journal(connections[connection.alias])  # the executor may have replaced a broken wrapper
        log.journal = journal
        log.close(rolled_back=batch.in_one_transaction)
        status = FAILED if isinstance(exc, RestoreFailedError) else RESTORED
        journal.finish(run_id, status, exc.message)
        exc.details["run_id"] = run_id
        for warning in capture_applied_steps(journal.connection, batch.steps):
            warn(warning)
        raise
    log.close(rolled_back=False)
    journal.finish(run_id, SUCCEEDED)
    if not batch.backwards:
        for warning in capture_applied_steps(connection, batch.steps, recorded):
            warn(warning)
    return run_id
