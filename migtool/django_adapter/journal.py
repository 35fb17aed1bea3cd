"""The run journal: every migtool run that changes a database, recorded in it.

Modelled on Django's ``MigrationRecorder``: the tables belong to floating
models with a private ``Apps()`` (so they need no app in ``INSTALLED_APPS``),
they are created on the first write, and reading never creates them.

A run's row is committed *before* its first migration, with status
``running``.  A process killed mid-run leaves it so; since that process no
longer holds the lock, readers show such a row as ``interrupted`` and the next
run that takes the lock marks it so for good.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from migtool import __version__
from migtool.core.graph import MigrationKey
from migtool.django_adapter.tables import column_exists, table_exists, tables_exist

RUNNING, SUCCEEDED, RESTORED, FAILED, INTERRUPTED = "running", "succeeded", "restored", "failed", "interrupted"
REFUSED = "refused"  # a fleet target's run refused before it began: nothing was changed


def _models() -> tuple[Any, Any]:
    """Build the journal models once per process (they need Django set up)."""
    global _MODELS
    if _MODELS is None:
        from django.apps.registry import Apps
        from django.db import models

        journal_apps = Apps()

        class Run(models.Model):
            command = models.CharField(max_length=32)
            release = models.CharField(max_length=128, null=True)
            direction = models.CharField(max_length=10)
            status = models.CharField(max_length=16)
            started_at = models.DateTimeField()
            finished_at = models.DateTimeField(null=True)
            error = models.TextField(null=True)
            user = models.CharField(max_length=150)
            host = models.CharField(max_length=255)
            pid = models.IntegerField()
            migtool_version = models.CharField(max_length=32)
            django_version = models.CharField(max_length=32)
            fleet_run = models.CharField(max_length=40, null=True)

            class Meta:
                apps = journal_apps
                app_label = "migtool"
                db_table = "migtool_run"

        class Step(models.Model):
            run_id = models.BigIntegerField(db_index=True)
            position = models.IntegerField()
            app = models.CharField(max_length=255)
            name = models.CharField(max_length=255)
            direction = models.CharField(max_length=10)
            outcome = models.CharField(max_length=16)
            started_at = models.DateTimeField()
            finished_at = models.DateTimeField(null=True)

            class Meta:
                apps = journal_apps
                app_label = "migtool"
                db_table = "migtool_run_step"

        _MODELS = (Run, Step)
    return _MODELS


_MODELS: tuple[Any, Any] | None = None


@dataclass(frozen=True)
class StepRecord:
    position: int
    key: MigrationKey
    direction: str
    outcome: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class RunRecord:
    id: int
    command: str
    release: str | None
    direction: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    user: str
    host: str
    pid: int
    migtool_version: str
    django_version: str
    steps: tuple[StepRecord, ...] = ()
    fleet_run: str | None = None

    def describe(self) -> str:
        since = self.started_at.isoformat(timespec="seconds")
        return f"run {self.id} ({self.command}) by {self.user}@{self.host} pid {self.pid}, since {since}"


def now() -> datetime:
    return datetime.now(timezone.utc)


class Journal:
    """Read and write the journal of one database connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.Run, self.Step = _models()

    def has_table(self) -> bool:
        return tables_exist(self.connection, [self.Run._meta.db_table, self.Step._meta.db_table])

    def ensure_schema(self) -> None:
        """Create the journal tables if missing, as ``MigrationRecorder.ensure_schema`` does,
        and add the ``fleet_run`` column to a journal made by an older migtool."""
        if self.has_table():
            if not self.has_fleet_column():
                with self.connection.schema_editor() as editor:
                    editor.add_field(self.Run, self.Run._meta.get_field("fleet_run"))
            return
        with self.connection.schema_editor() as editor:
            for model in (self.Run, self.Step):
                if not table_exists(self.connection, model._meta.db_table):
                    editor.create_model(model)

    def has_fleet_column(self) -> bool:
        """Journals written before fleets have no ``fleet_run`` column; they are read without it."""
        return column_exists(self.connection, self.Run._meta.db_table, "fleet_run")

    def _run_rows(self) -> Any:
        rows = self.Run.objects.using(self.connection.alias)
        return rows if self.has_fleet_column() else rows.defer("fleet_run")

    def begin(self, command: str, release: str | None, direction: str, fleet_run: str | None = None) -> int:
        """Record a run as running (committed at once) and return its id; ``fleet_run``
        names the fleet run it is part of."""
        self.ensure_schema()
        self.mark_interrupted()
        return self._create(command, release, direction, fleet_run, status=RUNNING, started_at=now())

    def refused(self, command: str, release: str | None, direction: str, fleet_run: str, error: str) -> int:
        """Record a fleet target's refusal (a blocker, the lock held by another run) as a
        finished run without steps, so ``fleet status`` can say why nothing ran.

        Unlike ``begin`` it may run without the lock: it leaves other runs' rows alone.
        """
        self.ensure_schema()
        moment = now()
        return self._create(
            command, release, direction, fleet_run, status=REFUSED, started_at=moment, finished_at=moment, error=error
        )

    def _create(self, command: str, release: str | None, direction: str, fleet_run: str | None, **row: Any) -> int:
        """Insert a run row with who and what ran it; return its id."""
        import django

        run = self.Run.objects.using(self.connection.alias).create(
            command=command,
            release=release,
            direction=direction,
            user=_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            migtool_version=__version__,
            django_version=django.get_version(),
            fleet_run=fleet_run,
            **row,
        )
        return int(run.pk)

    def mark_interrupted(self) -> None:
        """Mark runs still "running" as interrupted; call only while holding the lock."""
        self.Run.objects.using(self.connection.alias).filter(status=RUNNING).update(status=INTERRUPTED)

    def record_steps(self, run_id: int, steps: list[StepRecord]) -> None:
        self.Step.objects.using(self.connection.alias).bulk_create(
            self.Step(
                run_id=run_id,
                position=s.position,
                app=s.key.app_label,
                name=s.key.name,
                direction=s.direction,
                outcome=s.outcome,
                started_at=s.started_at,
                finished_at=s.finished_at,
            )
            for s in steps
        )

    def finish(self, run_id: int, status: str, error: str | None = None) -> None:
        self.Run.objects.using(self.connection.alias).filter(pk=run_id).update(
            status=status, finished_at=now(), error=error
        )

    def runs(self, limit: int | None = None, *, lock_free: bool = True) -> list[RunRecord]:
        """Return runs newest first; read-only (no table, no runs).

        With ``lock_free`` (nobody holds the lock), a "running" row can only
        belong to a killed process and is reported as interrupted.
        """
        if not self.has_table():
            return []
        rows = self._run_rows().order_by("-pk")
        return [self._record(row, lock_free) for row in (rows[:limit] if limit else rows)]

    def fleet_runs(self, fleet_run: str, *, lock_free: bool = True) -> list[RunRecord]:
        """Return this database's runs that were part of ``fleet_run``, oldest first, with
        their steps; read-only (an old journal without the column has none)."""
        if not self.has_table() or not self.has_fleet_column():
            return []
        ids = self.Run.objects.using(self.connection.alias).filter(fleet_run=fleet_run).order_by("pk")
        records = (self.run(pk, lock_free=lock_free) for pk in ids.values_list("pk", flat=True))
        return [r for r in records if r is not None]

    def run(self, run_id: int, *, lock_free: bool = True) -> RunRecord | None:
        """Return one run with its steps, or None; read-only."""
        if not self.has_table():
            return None
        row = self._run_rows().filter(pk=run_id).first()
        if row is None:
            return None
        steps = self.Step.objects.using(self.connection.alias).filter(run_id=run_id).order_by("position", "pk")
        return self._record(
            row,
            lock_free,
            tuple(
                StepRecord(s.position, MigrationKey(s.app, s.name), s.direction, s.outcome, s.started_at, s.finished_at)
                for s in steps
            ),
        )

    @staticmethod
    def _record(row: Any, lock_free: bool, steps: tuple[StepRecord, ...] = ()) -> RunRecord:
        status = INTERRUPTED if row.status == RUNNING and lock_free else row.status
        return RunRecord(
            id=row.pk,
            command=row.command,
            release=row.release,
            direction=row.direction,
            status=status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error=row.error,
            user=row.user,
            host=row.host,
            pid=row.pid,
            migtool_version=row.migtool_version,
            django_version=row.django_version,
            steps=steps,
            fleet_run=row.__dict__.get("fleet_run"),  # deferred (absent) on an old journal
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid, e.g. in containers
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


class StepLog:
    """An observer that journals each step of a run.

    In step-by-step runs every finished step is written at once (it is
    committed already).  In one-transaction runs the steps are kept until the
    transaction is over, so the journal never holds rows for work that was
    rolled back without saying so.  A step that starts and never finishes is
    recorded as failed (or, while undoing, as "undo failed").
    """

    def __init__(self, journal: Journal, run_id: int, *, backwards: bool, live: bool) -> None:
        self.journal, self.run_id, self.live = journal, run_id, live
        self.direction = "backwards" if backwards else "forwards"
        self.undo_direction = "forwards" if backwards else "backwards"
        self.pending: list[StepRecord] = []
        self.running: tuple[str, MigrationKey, datetime] | None = None
        self.position = 0

    def __call__(self, event: Any) -> None:
        if event.kind in ("start", "restore"):
            self._unfinished()
            self.running = (event.kind, event.key, now())
            return
        undoing = event.kind == "restored"
        started = self.running[2] if self.running and self.running[1] == event.key else now()
        self.running = None
        self._add(event.key, undoing, "undone" if undoing else "done", started)

    def _unfinished(self) -> None:
        """Record the step that was running when something else began, or the run ended."""
        if self.running is not None:
            kind, key, started = self.running
            self.running = None
            undoing = kind == "restore"
            self._add(key, undoing, "undo failed" if undoing else "failed", started)

    def _add(self, key: MigrationKey, undoing: bool, outcome: str, started: datetime) -> None:
        self.position += 1
        direction = self.undo_direction if undoing else self.direction
        record = StepRecord(self.position, key, direction, outcome, started, now())
        if self.live:
            self.journal.record_steps(self.run_id, [record])
        else:
            self.pending.append(record)

    def close(self, *, rolled_back: bool) -> None:
        """Write what is pending; steps of a rolled-back transaction are recorded as such."""
        self._unfinished()
        records = [
            StepRecord(r.position, r.key, r.direction, "rolled back", r.started_at, r.finished_at)
            if rolled_back and r.outcome == "done"
            else r
            for r in self.pending
        ]
        if records:
            self.journal.record_steps(self.run_id, records)
        self.pending = []
