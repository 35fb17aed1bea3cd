"""The JSON shapes of every report, each with ``schema_version``.

Lists are sorted so the same state always gives the same bytes.  Bump
``SCHEMA_VERSION`` when a field changes meaning or disappears; adding a field
does not need a bump.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from migtool.fleet.outcomes import TargetOutcome, counts

if TYPE_CHECKING:
    from migtool.api import FreezeResult, MigratePreview, ReleaseSummary, RollbackPreview, TagFreeze, VerifyReport
    from migtool.core.doctor import Finding
    from migtool.core.origins import Distribution
    from migtool.core.release_diff import ReleaseDiff
    from migtool.core.status import DatabaseStatus
    from migtool.django_adapter.journal import RunRecord
    from migtool.django_adapter.rehearsal import Rehearsal
    from migtool.django_adapter.stored_sources import CaptureResult
    from migtool.errors import MigtoolError

SCHEMA_VERSION = 1


def _wrap(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "kind": kind, **body}


def diff_to_dict(changes: ReleaseDiff) -> dict[str, Any]:
    return _wrap(
        "diff",
        {
            "old": changes.old,
            "new": changes.new,
            "has_changes": changes.has_changes,
            "unverified": list(changes.unverified),
            "not_compared": list(changes.not_compared),
            "apps": [
                {
                    "app": a.app,
                    "added": list(a.added),
                    "removed": list(a.removed),
                    "edited": list(a.edited),
                    "squashed": [{"name": name, "replaces": n} for name, n in a.squashed],
                    "upstream": a.upstream,
                    "distribution": {
                        "old": _distribution(a.old_distribution),
                        "new": _distribution(a.new_distribution),
                    },
                }
                for a in changes.apps
            ],
        },
    )


def _distribution(distribution: Distribution | None) -> dict[str, str] | None:
    return None if distribution is None else {"name": distribution.name, "version": distribution.version}


def freeze_to_dict(result: FreezeResult) -> dict[str, Any]:
    snapshot = result.snapshot
    return _wrap(
        "freeze",
        {
            "release": snapshot.release,
            "path": str(result.path),
            "apps": {
                app: {"leaves": list(s.leaves), "migrations": len(s.migrations), "squashes": sorted(s.squashes)}
                for app, s in snapshot.apps.items()
            },
            "replaced": diff_to_dict(result.replaced) if result.replaced else None,
            "source": dict(snapshot.source) if snapshot.source else None,
            "external": list(snapshot.external),
            "unreadable": dict(snapshot.unreadable),
        },
    )


def freeze_tags_to_dict(frozen: list[TagFreeze]) -> dict[str, Any]:
    return _wrap(
        "freeze-git-tags",
        {
            "releases": [
                {
                    "tag": f.tag,
                    "release": f.release,
                    "commit": f.commit,
                    "path": str(f.path),
                    "written": f.snapshot is not None,
                    "apps": None if f.snapshot is None else len(f.snapshot.apps),
                    "migrations": None if f.snapshot is None else len(f.snapshot.keys()),
                    "external": [] if f.snapshot is None else list(f.snapshot.external),
                    "unreadable": {} if f.snapshot is None else dict(f.snapshot.unreadable),
                }
                for f in frozen
            ]
        },
    )


def releases_to_dict(releases: list[ReleaseSummary]) -> dict[str, Any]:
    return _wrap(
        "releases",
        {
            "releases": [
                {
                    "name": r.name,
                    "apps": r.apps,
                    "migrations": r.migrations,
                    "legacy": r.legacy,
                    "problem": r.problem,
                    "source": dict(r.source) if r.source else None,
                    "not_frozen": list(r.not_frozen),
                }
                for r in releases
            ]
        },
    )


def status_to_dict(status: DatabaseStatus) -> dict[str, Any]:
    return _wrap(
        "status",
        {
            "database": status.database,
            "matching_releases": list(status.matching_releases),
            "unreadable_releases": dict(sorted(status.unreadable_releases.items())),
            "apps": [
                {
                    "app": a.app,
                    "applied": list(a.applied),
                    "unapplied": list(a.unapplied),
                    "ghosts": list(a.ghosts),
                    "duplicates": list(a.duplicates),
                    "captured": list(a.captured),
                    "from_stored_source": list(a.from_stored),
                }
                for a in status.apps
            ],
        },
    )


def capture_to_dict(result: CaptureResult, database: str) -> dict[str, Any]:
    return _wrap(
        "capture",
        {
            "database": database,
            "stored": result.stored,
            "already_stored": result.already,
            "differing": [str(k) for k in result.differing],
            "warnings": list(result.warnings),
        },
    )


def rehearsal_to_dict(rehearsal: Rehearsal | None) -> dict[str, Any] | None:
    """The ``rehearsal`` object of a report: None when none was asked for."""
    if rehearsal is None:
        return None
    return {
        "status": rehearsal.status,
        "steps": rehearsal.steps,
        "steps_ran": rehearsal.ran,
        "failed_step": rehearsal.failed,
        "error": rehearsal.error,
    }


def rollback_to_dict(preview: RollbackPreview, *, executed: bool, rehearsal: Rehearsal | None = None) -> dict[str, Any]:
    plan = preview.plan
    disproved = rehearsal is not None and rehearsal.passed
    return _wrap(
        "rollback",
        {
            "database": preview.database,
            "release": plan.release,
            "executed": executed,
            "can_run": not preview.blockers_after(rehearsal),
            "rehearsal": rehearsal_to_dict(rehearsal),
            "disproved_by_rehearsal": list(preview.step_blockers) if disproved else [],
            "one_transaction": preview.one_transaction,
            "over_squashed_originals": plan.use_originals,
            "fast_path": asdict(preview.prepared.counts) if executed and preview.prepared else None,
            "blockers": list(preview.blockers),
            "refusals": [
                {"kind": r.kind, "message": r.message, "migrations": [str(k) for k in r.keys]}
                for r in (*plan.refusals, *preview.stored_refusals)
            ],
            "warnings": list(preview.warnings),
            "steps": [
                {
                    "migration": str(c.key),
                    "app": c.key.app_label,
                    "name": c.key.name,
                    "source": "stored" if c.key in preview.from_stored else "disk",
                    "effects": list(c.effects),
                    "reversible": c.reversible,
                    "atomic": c.atomic,
                    "blockers": list(c.blockers),
                    "data_loss": list(c.data_loss),
                    "uncertain": list(c.uncertain),
                }
                for c in preview.checks
            ],
        },
    )


def migrate_to_dict(
    preview: MigratePreview, *, executed: bool, run_id: int | None = None, rehearsal: Rehearsal | None = None
) -> dict[str, Any]:
    return _wrap(
        "migrate-safe",
        {
            "database": preview.database,
            "release": preview.release,
            "executed": executed,
            "run_id": run_id,
            "rehearsal": rehearsal_to_dict(rehearsal),
            "one_transaction": preview.one_transaction,
            "unsafe": preview.unsafe,
            "steps": [
                {
                    "migration": str(c.key),
                    "app": c.key.app_label,
                    "name": c.key.name,
                    "reversible": c.reversible,
                    "atomic": c.atomic,
                    "undo_blockers": list(c.blockers),
                }
                for c in preview.checks
            ],
        },
    )


def _run_dict(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "command": run.command,
        "release": run.release,
        "direction": run.direction,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "user": run.user,
        "host": run.host,
        "pid": run.pid,
        "migtool_version": run.migtool_version,
        "django_version": run.django_version,
        "fleet_run": run.fleet_run,
    }


def history_to_dict(runs: list[RunRecord]) -> dict[str, Any]:
    return _wrap("history", {"runs": [_run_dict(r) for r in runs]})


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    steps = [
        {
            "position": s.position,
            "migration": str(s.key),
            "direction": s.direction,
            "outcome": s.outcome,
            "started_at": s.started_at.isoformat(),
            "finished_at": s.finished_at.isoformat() if s.finished_at else None,
        }
        for s in run.steps
    ]
    return _wrap("run", {"run": {**_run_dict(run), "steps": steps}})


def doctor_to_dict(findings: list[Finding], *, database: str | None, failed: bool) -> dict[str, Any]:
    counts = {level: sum(f.severity == level for f in findings) for level in ("error", "warning", "info")}
    return _wrap(
        "doctor",
        {
            "database": database,
            "ok": not failed,
            "counts": counts,
            "findings": [
                {
                    "severity": f.severity,
                    "code": f.code,
                    "subject": f.subject,
                    "message": f.message,
                    "why": f.why,
                    "fix": f.fix,
                }
                for f in findings
            ],
        },
    )


def verify_to_dict(report: VerifyReport) -> dict[str, Any]:
    return _wrap(
        "verify",
        {
            "database": report.database,
            "scratch_database": report.scratch,
            "kept": report.kept,
            "with_data": report.with_data,
            "ok": report.ok,
            "steps": [
                {
                    "from": s.old,
                    "to": s.new,
                    "ok": s.ok,
                    "forward": s.forward,
                    "rollback": s.rollback,
                    "schema": s.schema,
                    "forward_again": s.forward_again,
                    "seconds": s.seconds,
                    "errors": list(s.errors),
                    "differences": list(s.differences),
                    "irreversible": list(s.irreversible),
                    "preflight_predicted": list(s.predicted),
                    "preflight_miss": s.preflight_miss,
                    "notes": list(s.notes),
                    "seeded_rows": s.seeded_rows,
                    "seed_skipped": list(s.seed_skipped),
                }
                for s in report.steps
            ],
        },
    )


def error_to_dict(error: MigtoolError, exit_code: int) -> dict[str, Any]:
    return _wrap(
        "error",
        {
            "error": {
                "type": type(error).__name__,
                "message": error.message,
                "hint": error.hint,
                "exit_code": exit_code,
                "details": error.details,
            }
        },
    )


def fleet_to_dict(fleet_run: str | None, command: str, outcomes: list[TargetOutcome]) -> dict[str, Any]:
    """A fleet run's outcome per target (also the ``--manifest`` file)."""
    return _wrap(
        "fleet",
        {
            "fleet_run": fleet_run,
            "command": command,
            "counts": counts(outcomes),
            "targets": [o.to_dict() for o in outcomes],
        },
    )


def fleet_reads_to_dict(kind: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """A read-only command over a fleet: its single-database report per target, with the target."""
    return _wrap(f"fleet-{kind}", {"targets": reports})
