"""Options shared by several commands, as decorators.

Project-wide options are accepted before and after the subcommand (as with
``manage.py``); their values land on the ``AppContext``, a subcommand's value
overriding the group's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from migtool.cli.context import AppContext

F = TypeVar("F", bound=Callable[..., Any])


def _store(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.ensure_object(AppContext), attribute, value)

    return callback


def project_options(f: F) -> F:
    """``--settings``, ``--pythonpath``, ``--releases-dir`` and ``--traceback``."""
    options = [
        click.option(
            "--settings",
            metavar="MODULE",
            expose_value=False,
            callback=_store("settings"),
            help="Django settings module [default: $DJANGO_SETTINGS_MODULE].",
        ),
        click.option(
            "--pythonpath",
            metavar="DIR",
            expose_value=False,
            callback=_store("pythonpath"),
            help="Directory to add to the Python path (the current directory always is).",
        ),
        click.option(
            "--releases-dir",
            metavar="DIR",
            expose_value=False,
            callback=_store("releases_dir"),
            help="Where release files live [default: $MIGTOOL_RELEASES_DIR, "
            "settings.MIGTOOL_RELEASES_DIR, or ./releases].",
        ),
        click.option(
            "--traceback",
            is_flag=True,
            expose_value=False,
            callback=_store("traceback"),
            help="Show the full traceback of an error (also MIGTOOL_TRACEBACK=1).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def format_option(f: F) -> F:
    return click.option(
        "--format",
        type=click.Choice(["table", "json"]),
        default=None,
        expose_value=False,
        callback=_store("format"),
        help="Output a Rich table (default) or JSON on stdout.",
    )(f)


def database_option(f: F) -> F:
    return click.option(
        "--database",
        default="default",
        show_default=True,
        metavar="ALIAS",
        help="Database alias from settings.DATABASES.",
    )(f)


def lock_timeout_option(f: F) -> F:
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for another migtool run on the database to finish; then exit 5.",
    )(f)
