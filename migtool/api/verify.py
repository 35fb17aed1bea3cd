"""The verify use case: rehearse every release's rollback on a scratch database.

A rollback plan that never ran is a hope.  ``verify_releases`` takes the known
releases in version order (and the code on disk after the newest), makes an
empty scratch database of the alias's engine, and walks the chain once:
migrate to R0; then for each next release R1 migrate forward, roll back to
R0, migrate forward to R1 again, and go on to R2 from there.  Every move goes
through migtool's own ``migrate-safe`` and ``rollback`` code (preview, then
run under the journal), so what is rehearsed is what a deploy would run.

After each move it takes a schema fingerprint: a rollback must give back
exactly the fingerprint the database had at that release, and forward again
exactly the one it had at the newer release; each difference is reported by
the step that makes it.  With ``with_data`` it seeds generated rows at every
release first, so reverts that fail on data fail here; one the pre-flight had
called safe is a *pre-flight miss*.  Irreversible steps are not run; they fail
the step unless the caller expects them (``allow_irreversible``).  The alias's
own database is never opened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from migtool.api.migrate import execute_migrate, preview_migrate
from migtool.api.project import NOW, Project
from migtool.api.rollback import preview_rollback, run_rollback
from migtool.core.graph import MigrationKey
from migtool.core.schema import SchemaFingerprint, schema_differences
from migtool.core.snapshot import check_release_name
from migtool.errors import ExecutionError, InputError, PlanRefusedError, RestoreFailedError

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Observer
    from migtool.django_adapter.seeding import Seeder

OK, FAILED, NOT_RUN, SKIPPED = "ok", "failed", "not run", "-"
IRREVERSIBLE, ALLOWED, REFUSED = "irreversible", "irreversible (allowed)", "refused"
RESTORED, DIFFERS = "restored exactly", "differs"


@dataclass(frozen=True)
class StepResult:
    """One rehearsed release step ``old`` -> ``new`` (``old`` is None for the first migrate).

    ``forward``, ``rollback`` and ``forward_again`` are ``ok``, ``failed``, ``not run`` or
    ``-`` (nothing to do); ``rollback`` may also be ``irreversible``,
    ``irreversible (allowed)`` or ``refused``.  ``schema`` is ``restored exactly``,
    ``differs`` or ``-``.  ``errors`` and ``differences`` are whole sentences;
    ``predicted`` is what the pre-flight said would stop the rollback.
    """

    old: str | None
    new: str
    forward: str
    rollback: str = SKIPPED
    schema: str = SKIPPED
    forward_again: str = SKIPPED
    seconds: float = 0.0
    errors: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    predicted: tuple[str, ...] = ()
    preflight_miss: bool = False
    irreversible: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    seeded_rows: int | None = None
    seed_skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return (
            self.forward == OK
            and self.rollback in (OK, ALLOWED, SKIPPED)
            and self.schema != DIFFERS
            and self.forward_again in (OK, SKIPPED)
        )


@dataclass(frozen=True)
class VerifyReport:
    database: str
    scratch: str
    kept: bool
    with_data: bool
    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)


def verify_releases(
    project: Project,
    database: str,
    *,
    first: str | None = None,
    last: str | None = None,
    with_data: bool = False,
    keep: bool = False,
    allow_irreversible: Collection[str] = (),
    observer: Observer | None = None,
    report: Callable[[StepResult], None] | None = None,
) -> VerifyReport:
    """Rehearse every release step from ``first`` to ``last`` (default: all, then the code
    on disk) on a scratch database of ``database``'s engine; return one result per step.

    Raises for bad input (unknown release, unknown migration in
    ``allow_irreversible``) and configuration errors; everything the rehearsal
    finds is in the report.  ``report`` is called as each step completes.
    """
    from migtool.django_adapter.scratch import scratch_database
    from migtool.django_adapter.seeding import Seeder

    project.setup()
    chain = release_chain(project, first, last)
    allowed = _allowed_keys(project, allow_irreversible)
    with scratch_database(database, keep=keep) as scratch:
        rehearsal = _Rehearsal(project, database, allowed, Seeder() if with_data else None, observer, report)
        steps = rehearsal.run(chain)
    return VerifyReport(database, scratch.name, keep, with_data, tuple(steps))


def release_chain(project: Project, first: str | None, last: str | None) -> list[str]:
    """The releases from ``first`` to ``last`` in version order; without ``last``, then
    the code on disk (``NOW``) when it has migrations the newest release lacks."""
    names = list(reversed(project.store.names()))
    for name in (first, last):
        if name is not None:
            check_release_name(name)
            project.store.load(name)  # raises UnknownReleaseError listing the known ones
    if not names:
        raise InputError(
            "There are no releases to verify.",
            hint="Freeze one first: 'migtool freeze --release NAME' (or pass --releases-dir).",
        )
    start = names.index(first) if first is not None else 0
    stop = names.index(last) + 1 if last is not None else len(names)
    if start >= stop:
        raise InputError(f"--from {first} is not older than --to {last}.", hint="Give the older release to --from.")
    chain = names[start:stop]
    if last is None and project.disk_snapshot().keys() != project.load_release(chain[-1]).keys():
        chain.append(NOW)
    return chain


def _allowed_keys(project: Project, names: Collection[str]) -> frozenset[MigrationKey]:
    keys = set()
    for name in names:
        app, _, migration = name.partition(".")
        key = MigrationKey(app, migration)
        if key not in project.graph.nodes:
            raise InputError(
                f"--allow-irreversible {name}: no such migration on disk.",
                hint="Name it as APP.MIGRATION, e.g. catalog.0005_backfill_uppercase_sku.",
            )
        keys.add(key)
    return frozenset(keys)


@dataclass
class _Rehearsal:
    """One pass over a chain of releases on the scratch database."""

    project: Project
    database: str
    allowed: frozenset[MigrationKey]
    seeder: Seeder | None
    observer: Observer | None
    report: Callable[[StepResult], None] | None
    results: list[StepResult] = field(default_factory=list)

    def run(self, chain: list[str]) -> list[StepResult]:
        started = time.monotonic()
        error = self._forward(chain[0])
        fingerprint, seeded = (None, {}) if error else self._arrive()
        first = StepResult(None, chain[0], FAILED if error else OK, errors=_some(error), **seeded)
        self._add(_with(first, seconds=_since(started)))
        for old, new in zip(chain, chain[1:], strict=False):
            if fingerprint is None:  # the scratch database is not where this step starts
                self._add(StepResult(old, new, NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN))
                continue
            started = time.monotonic()
            result, fingerprint = self._step(old, new, fingerprint)
            self._add(_with(result, seconds=_since(started)))
        return self.results

    def _add(self, result: StepResult) -> None:
        self.results.append(result)
        if self.report is not None:
            self.report(result)

    def _connection(self) -> Any:
        from migtool.django_adapter.connection import get_connection

        return get_connection(self.database, create=True)

    def _arrive(self) -> tuple[SchemaFingerprint, dict[str, Any]]:
        """At a release: its fingerprint, then seed rows (which do not change it); return
        the fingerprint and the ``StepResult`` fields that say what was seeded."""
        from migtool.django_adapter.fingerprint import take_fingerprint

        fingerprint = take_fingerprint(self._connection())
        if self.seeder is None:
            return fingerprint, {}
        seeded = self.seeder.seed(self._connection())
        return fingerprint, {"seeded_rows": seeded.total, "seed_skipped": tuple(seeded.skipped)}

    def _forward(self, target: str) -> str | None:
        """Migrate forward to ``target`` with migrate-safe; return the error, if any."""
        try:
            preview = preview_migrate(
                self.project, self.database, release=None if target == NOW else target, create=True
            )
            if preview.steps:
                execute_migrate(self.project, preview, self.observer or _quiet, _scratch_warning)
        except (ExecutionError, PlanRefusedError) as exc:
            return exc.message
        return None

    def _step(
        self, old: str, new: str, old_fingerprint: SchemaFingerprint
    ) -> tuple[StepResult, SchemaFingerprint | None]:
        """Forward to ``new``, roll back to ``old``, forward again.  Return the result and
        the fingerprint the database has at ``new``, or None when it is not at ``new``."""
        from migtool.django_adapter.fingerprint import take_fingerprint
        from migtool.django_adapter.operation_facts import migration_facts

        error = self._forward(new)
        if error:
            return StepResult(old, new, FAILED, NOT_RUN, NOT_RUN, NOT_RUN, errors=(error,)), None
        new_fingerprint, seeded = self._arrive()
        base = StepResult(old, new, OK, **seeded)
        preview = preview_rollback(self.project, old, self.database, allow_drift=True)
        if preview.plan.refusals:
            refusals = tuple(r.message for r in preview.plan.refusals)
            return _with(base, rollback=REFUSED, errors=refusals), new_fingerprint
        migrations = preview.prepared.migrations if preview.prepared else []
        irreversible = {
            MigrationKey(m.app_label, m.name): migration_facts(m).irreversible
            for m in migrations
            if migration_facts(m).irreversible
        }
        if irreversible:
            verdict = ALLOWED if irreversible.keys() <= self.allowed else IRREVERSIBLE
            found = tuple(f"{key}: {fact}" for key, facts in irreversible.items() for fact in facts)
            return _with(base, rollback=verdict, irreversible=found), new_fingerprint
        base = _with(base, predicted=preview.blockers)
        try:
            run_rollback(preview, self.observer or _quiet, _scratch_warning, command="verify")
        except RestoreFailedError as exc:
            return _with(base, rollback=FAILED, forward_again=NOT_RUN, errors=(exc.message,)), None
        except ExecutionError as exc:
            why = f"{exc.details['failed']}: {exc.details['error']}" if exc.details.get("error") else exc.message
            # A check the pre-flight called uncertain did not claim the revert was safe.
            missed = not preview.blockers and not preview.uncertain
            return _with(base, rollback=FAILED, errors=(why,), preflight_miss=missed), new_fingerprint
        notes = tuple(f"the pre-flight predicted this, but the revert succeeded: {p}" for p in preview.blockers)
        back = take_fingerprint(self._connection())
        differences = tuple(
            f"rollback {new} → {old} {d}" for d in schema_differences(old_fingerprint, back, missing="does not restore")
        )
        base = _with(base, rollback=OK, notes=notes, differences=differences)
        error = self._forward(new)
        if error:
            return _with(base, schema=_verdict(differences), forward_again=FAILED, errors=(error,)), None
        again = take_fingerprint(self._connection())
        differences += tuple(
            f"forward again {old} → {new} {d}"
            for d in schema_differences(new_fingerprint, again, missing="does not re-create")
        )
        # The next step starts from the schema the database has now, so a difference
        # is reported once, by the step that made it.
        return _with(base, schema=_verdict(differences), forward_again=OK, differences=differences), again


def _with(result: StepResult, **changes: Any) -> StepResult:
    return replace(result, **changes)


def _verdict(differences: tuple[str, ...]) -> str:
    return DIFFERS if differences else RESTORED


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _some(error: str | None) -> tuple[str, ...]:
    return (error,) if error else ()


def _quiet(event: Any) -> None:
    """The rehearsal reports per release step, not per migration."""


def _scratch_warning(message: str) -> None:
    """Sources that could not be stored in the scratch database matter to no one: it is
    dropped after the rehearsal, and the alias's own database is never written."""
