"""Options shared by several commands, as decorators.

Project-wide options are accepted before and after the subcommand (as with
``manage.py``); their values land on the ``AppContext``, a subcommand's value
overriding the group's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from migtool.api import SchemaSelection
from migtool.cli.context import AppContext

F = TypeVar("F", bound=Callable[..., Any])


def _store(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.ensure_object(AppContext), attribute, value)

    return callback


def _store_schemas(field: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """Collect ``--schemas``, ``--schemas-from-query`` and ``--tenants`` into ``AppContext.schemas``."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            app = ctx.ensure_object(AppContext)
            app.schemas = replace(app.schemas or SchemaSelection(), **{field: value})

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
    return format_choice("table", "json", help="Output a Rich table (default) or JSON on stdout.")(f)


def format_choice(*choices: str, help: str | None = None) -> Callable[[F], F]:
    """``--format`` with these choices; the first is the default."""
    return click.option(
        "--format",
        type=click.Choice(list(choices)),
        default=None,
        expose_value=False,
        callback=_store("format"),
        help=help or f"Output format on stdout: {', '.join(choices)} [default: {choices[0]}].",
    )


def database_option(f: F) -> F:
    return click.option(
        "--database",
        default="default",
        show_default=True,
        metavar="ALIAS[:SCHEMA]",
        help="Database alias from settings.DATABASES; ALIAS:SCHEMA targets one PostgreSQL schema of it "
        "(schema-per-tenant, search_path set as django-tenants does).",
    )(f)


def rehearse_options(f: F) -> F:
    """``--rehearse`` and ``--rehearse-timeout``: run the plan for real in one transaction, then roll it back."""
    f = click.option(
        "--rehearse-timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=60.0,
        show_default=True,
        metavar="SECONDS",
        help="Stop the rehearsal when it runs longer (on PostgreSQL also its lock and statement timeouts).",
    )(f)
    return click.option(
        "--rehearse",
        is_flag=True,
        help="Run the plan for real inside one transaction and roll it back: the exact answer, data migrations "
        "included (PostgreSQL, and SQLite with atomic steps; exit 4 elsewhere). It takes the run's locks.",
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


def fleet_selection_options(f: F) -> F:
    """``--database`` (repeatable), ``--all-databases`` and ``--fleet``: one database, or a fleet.

    The values arrive as ``databases``, ``all_databases`` and ``fleet``; ``cli.fleet.Selection``
    reads them.
    """
    options = [
        click.option(
            "--database",
            "databases",
            multiple=True,
            metavar="ALIAS[:SCHEMA]",
            help="Database alias from settings.DATABASES [default: default]; repeat it for a fleet.",
        ),
        click.option("--all-databases", is_flag=True, help="Every alias in settings.DATABASES, in their order."),
        click.option(
            "--fleet",
            metavar="FILE|settings",
            help="The targets named in a TOML file (targets = [...]), or in settings.MIGTOOL_FLEET.",
        ),
        click.option(
            "--schemas",
            metavar="GLOB",
            expose_value=False,
            callback=_store_schemas("pattern"),
            help="The PostgreSQL schemas matching GLOB (e.g. 'tenant_*') of the --database alias, sorted.",
        ),
        click.option(
            "--schemas-from-query",
            metavar="SQL",
            expose_value=False,
            callback=_store_schemas("query"),
            help="The schemas named by the first column of a read-only query, in its order.",
        ),
        click.option(
            "--tenants",
            is_flag=True,
            expose_value=False,
            callback=_store_schemas("tenants"),
            help="django-tenants: public first, then every tenant's schema (its tenant model).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def fleet_run_options(f: F) -> F:
    """How a changing command runs over a fleet: ``--jobs``, ``--canary``, ``--on-failure``, ``--manifest``."""
    options = [
        click.option(
            "--jobs",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Fleet: targets migrated at once (worker processes) after the canaries.",
        ),
        click.option(
            "--canary",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Fleet: targets run one by one after the first before the rest; a canary failure stops the fleet.",
        ),
        click.option(
            "--on-failure",
            type=click.Choice(["stop", "continue", "rollback"]),
            default="stop",
            show_default=True,
            help="Fleet: start no new target, attempt every target, or also restore the targets this run migrated.",
        ),
        click.option("--manifest", metavar="FILE", help="Fleet: write the outcome per target as JSON to FILE."),
        click.option(
            "--executor",
            type=click.Choice(["local", "celery"]),
            expose_value=False,
            callback=_store("executor"),
            help="Fleet: run targets in this process and a process pool (local, the default), "
            "or as tasks on the project's Celery workers.",
        ),
        click.option(
            "--celery-app",
            metavar="MODULE:APP",
            expose_value=False,
            callback=_store("celery_app"),
            help="Fleet, --executor celery: the Celery app [default: $CELERY_APP, else <project>.celery].",
        ),
        click.option(
            "--queue",
            metavar="NAME",
            expose_value=False,
            callback=_store("queue"),
            help="Fleet, --executor celery: the queue the tasks are sent to [default: migtool].",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f
