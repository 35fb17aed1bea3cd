"""``AppContext``: the one object that owns a run's options, output streams and project."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from migtool.api import Project, SchemaSelection

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Observer, StepEvent


class AppContext:
    """Options gathered from the group and the subcommand, the two consoles, and
    the user's project, set up only when a command asks for it (so ``--help``
    and ``--version`` work without a Django project).

    stdout carries data (tables or JSON); stderr carries everything human:
    messages, warnings, errors, progress.
    """

    def __init__(self) -> None:
        self.settings: str | None = None
        self.pythonpath: str | None = None
        self.releases_dir: str | None = None
        self.traceback = os.environ.get("MIGTOOL_TRACEBACK", "") not in ("", "0")
        self.format = "table"
        self.schemas: SchemaSelection | None = None  # --schemas, --schemas-from-query, --tenants
        self.executor = "local"  # --executor; with "celery", --celery-app and --queue
        self.celery_app: str | None = None
        self.queue = "migtool"
        self._project: Project | None = None
        # Off a terminal (CI logs, files) Rich would assume 80 columns and fold
        # migration names; COLUMNS still wins when set.
        width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
        self.out = Console(file=sys.stdout, markup=False, highlight=False, emoji=False, soft_wrap=False, width=width)
        self.err = Console(file=sys.stderr, markup=False, highlight=False, emoji=False, soft_wrap=True)

    @property
    def json(self) -> bool:
        return self.format == "json"

    def project(self) -> Project:
        if self._project is None:
            self._project = Project(settings=self.settings, pythonpath=self.pythonpath, releases_dir=self.releases_dir)
            click.get_current_context().call_on_close(_close_connections)
        return self._project

    def emit(self, payload: dict[str, Any], table: Table | None) -> None:
        """Write a report: JSON (never through Rich, which would wrap it) or a table."""
        if self.json:
            click.echo(json.dumps(payload, indent=2, sort_keys=True))
        elif table is not None:
            self.out.print(table)

    def say(self, message: str) -> None:
        self.err.print(message)

    def warn(self, message: str) -> None:
        self.say(f"Warning: {message}")

    def progress(self, verb: str) -> Observer:
        """Return an observer that reports steps on stderr: one line per step, and
        on a terminal a live spinner for the step that is running."""
        live = self.err.status("") if self.err.is_terminal else None
        if live is not None:
            click.get_current_context().call_on_close(live.stop)
        labels = {"start": verb, "done": "done", "restore": "undoing", "restored": "undone"}

        def observe(event: StepEvent) -> None:
            line = f"[{event.index}/{event.total}] {labels[event.kind]} {event.key}"
            if event.kind in ("start", "restore"):
                if live is not None:
                    live.update(line)
                    live.start()
                elif event.kind == "restore":
                    self.say(line)
            else:
                self.say(line)

        return observe

    @property
    def ascii_only(self) -> bool:
        return not self.out.is_terminal


def _close_connections() -> None:
    """Close what the command opened; a process that imported Django without
    configuring it (the settings-free commands, an embedding program) has none."""
    if "django.db" in sys.modules:
        from django.conf import settings
        from django.db import connections

        if settings.configured:
            connections.close_all()
