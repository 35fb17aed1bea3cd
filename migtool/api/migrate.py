"""The migrate-safe use case: plan a forward batch, check it, apply it all-or-nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migtool.api.project import Project
from migtool.api.running import run_journaled
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.planner import code_not_at_release, plan_forward, plan_rollback, plan_to_release
from migtool.core.safety import StepCheck
from migtool.core.snapshot import (
    ReleaseSnapshot,
    check_release_name,
)
from migtool.errors import (
    GraphConflictError,
    InputError,
    PlanRefusedError,
)

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Batch, Observer


@dataclass(frozen=True)
class MigratePreview:
    """A forward batch with its checks.  ``undo_blockers`` say which steps could
    not be undone if a later step failed; they matter when the batch cannot be
    one transaction."""

    database: str
    release: str | None
    steps: tuple[MigrationKey, ...]
    checks: tuple[StepCheck, ...]
    one_transaction: bool
    recorded: frozenset[MigrationKey]
    use_originals: bool = False

    @property
    def undo_blockers(self) -> tuple[str, ...]:
        """Blockers of every step but the last: only steps that completed are undone."""
        return tuple(f"{c.key}: {b}" for c in self.checks[:-1] for b in c.blockers)

    @property
    def unsafe(self) -> bool:
        """A failure could leave the batch half-applied for good."""
        return bool(self.undo_blockers) and not self.one_transaction

    def batch(self) -> Batch:
        """The batch as the executor runs it, with ``post_migrate`` as ``manage.py migrate`` sends it."""
        from migtool.django_adapter.executor import Batch

        return Batch(
            steps=self.steps,
            backwards=False,
            in_one_transaction=self.one_transaction,
            use_originals=self.use_originals,
            signals=True,
        )


def preview_migrate(
    project: Project,
    database: str,
    *,
    app_label: str | None = None,
    migration: str | None = None,
    release: str | None = None,
    create: bool = False,
) -> MigratePreview:
    """Plan a forward batch like ``manage.py migrate [APP [MIGRATION]]``, or to exactly
    ``release``, and check whether each step could be undone.

    Read-only, except that ``create`` lets a missing SQLite file be created.
    Without it, a SQLite file that does not exist yet is planned from an empty
    state, as ``migrate --plan`` does, and nothing is connected.
    """
    from django.db import connections

    from migtool.django_adapter.connection import get_connection, sqlite_file_missing
    from migtool.django_adapter.loader import load_recorded
    from migtool.django_adapter.operation_facts import undo_check
    from migtool.django_adapter.plans import build_executor, check_history, forward_order, plan_migrations

    if release is not None:
        check_release_name(release)
    project.setup()
    snapshot = project.load_release(release) if release is not None else None
    absent = not create and database in connections.settings and sqlite_file_missing(database)
    connection = connections[database] if absent else get_connection(database, create=create)
    graph = project.graph
    recorded = frozenset() if absent else frozenset(load_recorded(connection))
    effective = graph.effective(recorded)
    conflicts = {app: leaves for app, leaves in effective.leaves().items() if len(leaves) > 1}
    if conflicts:
        listing = "; ".join(f"{app}: {', '.join(k.name for k in keys)}" for app, keys in conflicts.items())
        raise GraphConflictError(
            f"Conflicting migrations detected ({listing}).",
            hint="Run 'python manage.py makemigrations --merge' and commit the merge migration.",
        )
    if not absent:
        check_history(build_executor(connection, False, recorded=recorded))
    if snapshot is not None:
        _refuse_not_on_disk(graph, recorded, snapshot)
        _refuse_outside(graph, recorded, snapshot)
        steps, use_originals = plan_to_release(graph, recorded, snapshot)
    else:
        steps, use_originals = plan_forward(graph, recorded, _targets(graph, recorded, app_label, migration)), False
    executor = build_executor(None if absent else connection, use_originals, recorded=recorded)
    steps = forward_order(executor, steps) if steps else ()
    # Whether a step could be undone needs no rendered states: only its operations.
    checks = [undo_check(m) for m in plan_migrations(executor, steps, applied=False)]
    one_transaction = bool(connection.features.can_rollback_ddl) and all(c.atomic for c in checks)
    return MigratePreview(database, release, steps, tuple(checks), one_transaction, recorded, use_originals)


def _refuse_not_on_disk(graph: ProjectGraph, recorded: frozenset[MigrationKey], release: ReleaseSnapshot) -> None:
    """Refuse a migrate to ``release`` when the code lacks some of its migrations:
    "nothing to migrate" would tell a deploy from the wrong (older) code it succeeded."""
    refusal = code_not_at_release(graph, recorded, release)
    if refusal is not None:
        raise PlanRefusedError(
            f"{refusal.message} Nothing was applied.",
            hint=f"Check which code this deploy runs: 'migtool diff {release.release}' lists what the code lacks.",
            missing=[str(k) for k in refusal.keys],
        )


def refuse_if_unsafe(preview: MigratePreview) -> None:
    """``--require-reversible``: raise ``PlanRefusedError`` for a batch a failure could leave half-applied."""
    if preview.unsafe:
        raise PlanRefusedError(
            "Batch refused by --require-reversible: a failure could not be undone; nothing was applied.",
            hint="Split the batch, or make those migrations reversible.",
            blockers=list(preview.undo_blockers),
        )


def _refuse_outside(graph: ProjectGraph, recorded: frozenset[MigrationKey], release: ReleaseSnapshot) -> None:
    """Refuse a migrate to ``release`` when reaching it would need unapplying."""
    outside = plan_rollback(graph, recorded, release).steps
    if outside:
        raise PlanRefusedError(
            f"The database has {len(outside)} migration(s) outside release {release.release} "
            f"({', '.join(map(str, outside[:5]))}); migrate-safe only applies migrations.",
            hint=f"Run 'migtool rollback {release.release}' first.",
        )


def _targets(
    graph: ProjectGraph, recorded: frozenset[MigrationKey], app_label: str | None, migration: str | None
) -> list[MigrationKey] | None:
    """Resolve ``APP_LABEL [MIGRATION_NAME]`` as migrate does, refusing anything backwards."""
    effective = graph.effective(recorded)
    if app_label is None:
        return None
    if app_label not in graph.apps:
        raise InputError(f"App {app_label!r} does not have migrations.", hint="Check the app label ('migtool status').")
    if migration is None:
        return list(effective.leaves()[app_label])
    if migration == "zero":
        raise PlanRefusedError(
            "migrate-safe only migrates forwards.", hint="To unapply migrations, use 'migtool rollback RELEASE'."
        )
    names = [k for k in effective.parents if k.app_label == app_label]
    matches = [k for k in names if k.name == migration] or [k for k in names if k.name.startswith(migration)]
    if len(matches) != 1:
        problem = "More than one migration matches" if matches else "Cannot find a migration matching"
        raise InputError(f"{problem} {migration!r} in app {app_label!r}.", hint="Give more of the migration's name.")
    target = matches[0]
    applied = graph.applied(recorded)
    later = [k for k in effective.descendants([target]) - {target} if k.app_label == app_label and k in applied]
    if later:
        raise PlanRefusedError(
            f"{target} is applied and so is {sorted(later)[0]}: migrating to it would unapply migrations, "
            "and migrate-safe only migrates forwards.",
            hint="Use 'migtool rollback RELEASE' to go back.",
        )
    return [target]


def execute_migrate(
    project: Project,
    preview: MigratePreview,
    observer: Observer,
    warn: Callable[[str], None],
    *,
    fleet_run: str | None = None,
) -> int:
    """Apply a previewed forward batch all-or-nothing; return the journal's run id.

    Call it inside the ``exclusive`` block the preview was made in.  The
    sources of what it applied are stored in the database; ``warn`` hears
    when they cannot be.
    """
    from migtool.django_adapter.connection import get_connection

    return run_journaled(
        get_connection(preview.database),
        preview.batch(),
        observer,
        command="migrate-safe",
        release=preview.release,
        fleet_run=fleet_run,
        warn=warn,
    )
