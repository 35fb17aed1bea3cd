"""Rich tables for every report.  Symbols carry meaning, not colour alone
(colour is off in CI logs and when ``NO_COLOR`` is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

if TYPE_CHECKING:
    from migtool.api import FreezeResult, ReleaseSummary
    from migtool.core.snapshot import ReleaseDiff
    from migtool.core.status import DatabaseStatus


def _table(title: str, *columns: str, ascii_only: bool) -> Table:
    table = Table(title=title, box=box.ASCII if ascii_only else box.ROUNDED, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def freeze_table(result: FreezeResult, *, ascii_only: bool) -> Table:
    table = _table(f"Release {result.snapshot.release}", "App", "Leaves", "Migrations", "Squashes",
                   ascii_only=ascii_only)
    for app, snap in result.snapshot.apps.items():
        table.add_row(app, ", ".join(snap.leaves), str(len(snap.migrations)), ", ".join(sorted(snap.squashes)))
    return table


def releases_table(releases: list[ReleaseSummary], *, ascii_only: bool) -> Table:
    table = _table("Releases (newest first)", "Release", "Apps", "Migrations", "Format", ascii_only=ascii_only)
    for r in releases:
        count = "?" if r.migrations is None else str(r.migrations)
        table.add_row(r.name, str(r.apps), count, "legacy (leaves only)" if r.legacy else "full")
    return table


def diff_table(changes: ReleaseDiff, *, ascii_only: bool) -> Table:
    table = _table(f"{changes.old} -> {changes.new}", "App", "Change", "Migration", ascii_only=ascii_only)
    for app in changes.apps:
        for symbol, names in (("+ added", app.added), ("- removed", app.removed), ("~ edited", app.edited)):
            for name in names:
                table.add_row(app.app, symbol, name)
    return table


def status_table(status: DatabaseStatus, *, ascii_only: bool) -> Table:
    table = _table(f"Database {status.database!r}", "App", "Applied", "Unapplied", "Ghost rows", "Duplicate rows",
                   ascii_only=ascii_only)
    for app in status.apps:
        table.add_row(
            app.app,
            str(len(app.applied)),
            "\n".join(app.unapplied) or "-",
            "\n".join(app.ghosts) or "-",
            "\n".join(app.duplicates) or "-",
        )
    return table
