"""pytest plugin: ``pytest --migtool-verify`` rehearses every release's rollback in the test suite.

Projects that test with pytest-django already have a session with Django set
up and test database settings; this plugin (a ``pytest11`` entry point, so it
is loaded wherever migtool is installed) adds one test to that session,
``migtool-verify``, which runs exactly what ``migtool verify`` runs.  It is off
until asked for: without ``--migtool-verify`` it adds nothing and imports
nothing of Django or migtool's adapter.

The test runs first, before pytest-django creates its own test database, and
drops its scratch database (``test_<NAME>``, or a temporary SQLite file) when
it ends, so the two never meet.  It lifts pytest-django's block on database
access for its own duration only.  A failing rehearsal fails the test with
the same table the command prints.
"""

from __future__ import annotations

import io
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

ITEM_NAME = "migtool-verify"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migtool", "migtool: rehearse migrations' rollbacks")
    group.addoption(
        "--migtool-verify", action="store_true", help="Add a test that runs 'migtool verify' on a scratch database."
    )
    group.addoption("--migtool-database", default="default", metavar="ALIAS", help="Database alias to rehearse on.")
    group.addoption("--migtool-with-data", action="store_true", help="Seed generated rows at each release.")
    group.addoption(
        "--migtool-allow-irreversible",
        action="append",
        default=[],
        metavar="APP.MIGRATION",
        help="An irreversible migration that is expected; repeat for several.",
    )
    group.addoption("--migtool-releases-dir", metavar="DIR", help="Where release files live [default as migtool].")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("migtool_verify"):
        items.insert(0, VerifyItem.from_parent(session, name=ITEM_NAME))


class VerifyFailed(Exception):
    """The rehearsal ran and found failing steps; carries the report to render."""

    def __init__(self, report: Any) -> None:
        super().__init__("migtool verify found failing steps")
        self.report = report


class VerifyItem(pytest.Item):
    """The one test the plugin adds: the rehearsal of every release step."""

    def runtest(self) -> None:
        from migtool import api

        option = self.config.getoption
        project = api.Project(releases_dir=option("migtool_releases_dir"))
        with _database_access(self.config):
            report = api.verify_releases(
                project,
                option("migtool_database"),
                with_data=option("migtool_with_data"),
                allow_irreversible=option("migtool_allow_irreversible"),
            )
        if not report.ok:
            raise VerifyFailed(report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from migtool.errors import MigtoolError

        error = excinfo.value
        if isinstance(error, VerifyFailed):
            return _render(error.report)
        if isinstance(error, MigtoolError):
            return f"Error: {error.message}" + (f"\nHint: {error.hint}" if error.hint else "")
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, ITEM_NAME


def _render(report: Any) -> str:
    from rich.console import Console

    from migtool.render.tables import verify_table

    buffer = io.StringIO()
    Console(file=buffer, width=160, markup=False, highlight=False, emoji=False).print(
        verify_table(report, ascii_only=True)
    )
    failed = sum(not step.ok for step in report.steps)
    return buffer.getvalue() + f"migtool verify: {failed} of {len(report.steps)} step(s) failed."


def _database_access(config: pytest.Config) -> AbstractContextManager[Any]:
    """pytest-django's unblock of database access, or nothing when it is not in use."""
    try:
        from pytest_django.plugin import blocking_manager_key
    except ImportError:  # pytest-django before 4.7 kept the blocker in a module global
        try:
            from pytest_django.plugin import _blocking_manager  # type: ignore[attr-defined]
        except ImportError:
            return nullcontext()
        return _blocking_manager.unblock()  # type: ignore[no-any-return]
    if blocking_manager_key not in config.stash:
        return nullcontext()
    return config.stash[blocking_manager_key].unblock()  # type: ignore[no-any-return]
