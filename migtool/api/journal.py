"""Read-only use cases on the journal and the doctor's findings."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from migtool.api.project import Project
from migtool.core.doctor import Finding, RunFact, diagnose, ordered
from migtool.core.graph import MigrationKey
from migtool.core.planner import Refusal
from migtool.core.stored import refusal_findings, stored_drift, uncaptured
from migtool.errors import (
    InputError,
)

if TYPE_CHECKING:
    from migtool.django_adapter.journal import RunRecord


def run_history(project: Project, database: str, *, limit: int | None = None) -> list[RunRecord]:
    """Return journaled runs, newest first; read-only (an absent journal is empty)."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import Journal
    from migtool.django_adapter.lock import is_locked

    project.setup()
    connection = get_connection(database)
    return Journal(connection).runs(limit, lock_free=not is_locked(connection))


def run_details(project: Project, database: str, run_id: int) -> RunRecord:
    """Return one journaled run with its steps; read-only."""
    from migtool.django_adapter.connection import get_connection
    from migtool.django_adapter.journal import Journal
    from migtool.django_adapter.lock import is_locked

    project.setup()
    connection = get_connection(database)
    record = Journal(connection).run(run_id, lock_free=not is_locked(connection))
    if record is None:
        raise InputError(f"No run {run_id} in the journal of {database!r}.", hint="'migtool history' lists the runs.")
    return record


def diagnose_project(project: Project, database: str | None) -> list[Finding]:
    """Run every doctor check: on the code and the release files, and, with
    ``database``, on its recorded state and journal.  Read-only."""
    from migtool.django_adapter.loader import load_facts

    project.setup()
    recorded = None
    runs: list[RunFact] = []
    stored: list[Finding] = []
    if database is not None:
        from migtool.django_adapter.connection import get_connection
        from migtool.django_adapter.loader import load_recorded

        connection = get_connection(database)
        injection = project.load_stored_sources(connection)
        recorded = load_recorded(connection)
        runs = [
            RunFact(r.id, r.command, r.status, r.started_at.isoformat(timespec="seconds"))
            for r in run_history(project, database)
        ]
        stored = [
            *refusal_findings(injection.refusals),
            *refusal_findings(_unrenderable(connection, injection.injected, recorded)),
            *stored_drift(project.graph, injection.variants),
            *uncaptured(project.graph, frozenset(recorded), injection.variants),
        ]
    releases, unreadable = project.readable_releases()
    problems = {name: error.message for name, error in unreadable.items()}
    return ordered(
        diagnose(project.graph, releases, load_facts(), recorded, runs, problems, project.ownership) + stored
    )


def _unrenderable(
    connection: Any, injected: frozenset[MigrationKey], recorded: Collection[MigrationKey]
) -> list[Refusal]:
    """The stored migration, if any, after which the applied history no longer renders
    with today's code (a rollback would refuse it); nothing to render without one.
    ``recorded`` are the rows just read, so the executor does not read them again."""
    if not injected:
        return []
    from migtool.django_adapter.plans import build_executor
    from migtool.django_adapter.stored_loader import render_refusals

    return render_refusals(build_executor(connection, use_originals=False, recorded=recorded).loader, injected)
