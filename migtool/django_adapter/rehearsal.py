"""Exact rehearsal: run the real plan in one transaction, then roll it back.

The pre-flight checks predict from the operations and today's rows; they
cannot know what a data migration's reverse code does, nor every rule the
database enforces (django-migrations.md §3).  Where the backend rolls back DDL
(PostgreSQL, SQLite) and every step is atomic, the plan itself can answer:
``rehearse`` runs it through ``run_batch``, the code path of the real run, with
``Batch.rehearsal`` set, so its one transaction is rolled back instead of
committed.  The answer is exact for this database now: the step that fails
with the database's error, or every step ran.

Where it could not be exact, ``refusal`` says why (MySQL/MariaDB commit each
DDL statement; a non-atomic step cannot run inside the transaction), and the
caller refuses instead of pretending.

A rehearsal is bounded by a timeout: no step starts once it has run out; on
PostgreSQL ``lock_timeout`` and ``statement_timeout`` are set (``SET LOCAL``,
so they end with the transaction) to what is left of it before each step; on
SQLite a progress handler interrupts SQL that runs past it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

from migtool.core.safety import StepCheck
from migtool.django_adapter.executor import Batch, Observer, StepEvent, run_batch
from migtool.django_adapter.plans import Prepared
from migtool.errors import ExecutionError, RestoreFailedError

# SQLite calls the progress handler every this many virtual-machine instructions.
_SQLITE_PROGRESS_STEPS = 10_000


@dataclass(frozen=True)
class Rehearsal:
    """What running the plan for real did: ``ran`` of ``steps`` completed;
    ``failed`` is the step that failed and ``error`` the database's error."""

    steps: int
    ran: int
    failed: str | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"


class RehearsalTimeout(Exception):
    """The rehearsal's time ran out before a step could start."""


def refusal(connection: Any, checks: Sequence[StepCheck]) -> str | None:
    """Why a rehearsal of the steps ``checks`` describe could not be exact here, or None."""
    if not connection.features.can_rollback_ddl:
        return (
            f"{connection.display_name} commits every DDL statement at once, so the rehearsal's "
            "changes could not be rolled back"
        )
    non_atomic = [str(c.key) for c in checks if not c.atomic]
    if non_atomic:
        return f"{', '.join(non_atomic)} cannot run inside a transaction (atomic = False, CONCURRENTLY or VACUUM)"
    return None


def rehearse(
    connection: Any, batch: Batch, timeout: float, observer: Observer, prepared: Prepared | None = None
) -> Rehearsal:
    """Run ``batch`` for real inside one transaction and roll it back; say what happened.

    The caller checked ``refusal`` first.  A failing step is an answer, not an
    error; ``RestoreFailedError`` (the rollback left something behind, which
    re-reading the database would show) propagates.  ``prepared`` can be run
    again afterwards.
    """
    deadline = time.monotonic() + timeout
    ran = 0

    def observe(event: StepEvent) -> None:
        nonlocal ran
        if event.kind == "start":
            _bound(connection, deadline, timeout)
        elif event.kind == "done":
            ran = event.index
        observer(event)

    try:
        with _sqlite_interrupted_after(connection, deadline):
            run_batch(connection, replace(batch, rehearsal=True), observe, prepared)
    except RestoreFailedError:
        raise
    except ExecutionError as exc:
        error = exc.details.get("error") or exc.message
        if time.monotonic() >= deadline:  # the database's words for it vary: "interrupted", "canceling statement"
            error += f" (the rehearsal timeout of {timeout:g} s ran out)"
        return Rehearsal(len(batch.steps), ran, exc.details.get("failed"), error)
    finally:
        if prepared is not None:
            prepared.forget_states()
    return Rehearsal(len(batch.steps), ran)


def _bound(connection: Any, deadline: float, timeout: float) -> None:
    """Before a step: stop if the time is up; on PostgreSQL, bound its waits and statements by what is left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise RehearsalTimeout(f"the rehearsal timeout of {timeout:g} s ran out before this step started")
    if connection.vendor == "postgresql":
        milliseconds = max(int(left * 1000), 1)
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {milliseconds}")
            cursor.execute(f"SET LOCAL statement_timeout = {milliseconds}")


@contextmanager
def _sqlite_interrupted_after(connection: Any, deadline: float) -> Iterator[None]:
    """On SQLite, interrupt any statement still running at ``deadline`` (it fails with "interrupted")."""
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), _SQLITE_PROGRESS_STEPS)
    try:
        yield
    finally:
        with suppress(sqlite3.ProgrammingError):  # closed after a failure (``reset_connection``): gone with it
            raw.set_progress_handler(None, 0)
