"""One outcome per target of a fleet run, and how a fleet's outcomes sum up.

Why a module: the runner, ``fleet status`` (which rebuilds outcomes from each
target's journal), the manifest and the final line must agree on the same
vocabulary.  Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from migtool.fleet.targets import Target

SUCCEEDED = "succeeded"
RESTORED = "restored"
FAILED = "failed"
NOT_RESTORED = "not restored"
UP_TO_DATE = "skipped: up to date"
NOT_STARTED = "not started"
WOULD_RUN = "would run"  # a dry run: the target's plan has steps; nothing was changed
REFUSED = "refused"  # refused before anything was changed: a blocker, the lock held, a bad target
RUNNING = "running"  # only seen by ``fleet status`` while the run goes on
STATUSES = (SUCCEEDED, WOULD_RUN, UP_TO_DATE, RESTORED, REFUSED, FAILED, NOT_RESTORED, RUNNING, NOT_STARTED)
DONE = frozenset({SUCCEEDED, UP_TO_DATE})
BROKEN = frozenset({REFUSED, FAILED, NOT_RESTORED})


@dataclass(frozen=True)
class TargetOutcome:
    """What a fleet run did to one target.

    ``error_type`` is the name of the ``migtool.errors`` class that failed it
    (``None`` when nothing failed; ``"internal"`` for a bug in migtool): the CLI
    turns it into the target's exit code.  ``run_id`` is the target's own
    journal run, when one was written.  ``warnings`` are what the run reported
    without failing (sources it could not store; a dry run's pre-flight warnings).
    """

    target: Target
    status: str
    applied: int = 0
    duration: float = 0.0
    error: str | None = None
    error_type: str | None = None
    run_id: int | None = None
    warnings: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()  # a dry run's steps, in order (``applied`` counts them)

    @property
    def broken(self) -> bool:
        return self.status in BROKEN

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.label,
            "database": self.target.alias,
            "schema": self.target.schema,
            "status": self.status,
            "applied": self.applied,
            "duration": round(self.duration, 3),
            "error": self.error,
            "run_id": self.run_id,
            "warnings": list(self.warnings),
            "plan": list(self.plan),
        }


def counts(outcomes: Iterable[TargetOutcome]) -> dict[str, int]:
    """Targets per status, in the fixed order of ``STATUSES``, without zeros."""
    seen = Counter(o.status for o in outcomes)
    return {status: seen[status] for status in STATUSES if seen[status]}


def summary_line(fleet_run: str | None, outcomes: Iterable[TargetOutcome]) -> str:
    listed = list(outcomes)
    parts = ", ".join(f"{n} {status}" for status, n in counts(listed).items()) or "no targets"
    run = f"fleet run {fleet_run}: " if fleet_run else ""
    return f"{run}{len(listed)} target(s): {parts}."
