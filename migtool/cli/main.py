"""The root command, the error boundary and the exit-code table.

``EXIT_CODES`` is the only place where an error becomes an exit code; it is
resolved along the exception's MRO, so a subclass inherits its family's code.
"""

from __future__ import annotations

import json
from typing import Any

import click

from migtool import __version__
from migtool.cli.commands import (
    capture,
    diff,
    doctor,
    fleet,
    freeze,
    graph,
    history,
    migrate_safe,
    releases,
    rollback,
    status,
    verify,
)
from migtool.cli.context import AppContext
from migtool.cli.options import project_options
from migtool.errors import (
    ConfigurationError,
    ExecutionError,
    InputError,
    LockHeldError,
    MigtoolError,
    PlanRefusedError,
    RehearsalRefusedError,
    RestoreFailedError,
)
from migtool.render.payloads import error_to_dict

CHECK_FAILED = 1
INTERNAL_ERROR = 70
EXIT_CODES: dict[type[MigtoolError], int] = {
    InputError: 2,
    ConfigurationError: 3,
    PlanRefusedError: 4,
    RehearsalRefusedError: 4,
    LockHeldError: 5,
    ExecutionError: 6,
    RestoreFailedError: 7,
}


def exit_code_for(error: MigtoolError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return INTERNAL_ERROR


class MigtoolGroup(click.Group):
    """Reports ``MigtoolError`` as one line plus a hint (after its traceback with
    ``--traceback``, with the same exit code either way), and any other
    exception, a bug in migtool, with its traceback and exit code 70."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MigtoolError as error:
            app = ctx.ensure_object(AppContext)
            if app.traceback:  # for debugging: shown, then reported and exited as without it
                app.err.print_exception(suppress=[click])
            code = exit_code_for(error)
            if app.json:
                click.echo(json.dumps(error_to_dict(error, code), indent=2, sort_keys=True, default=str))
            click.echo(f"Error: {error.message}", err=True)
            if error.hint:
                click.echo(f"Hint: {error.hint}", err=True)
            ctx.exit(code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception:
            app = ctx.ensure_object(AppContext)
            app.err.print_exception(suppress=[click])
            app.say(f"migtool {__version__} hit an internal error; please report it with the traceback above.")
            ctx.exit(INTERNAL_ERROR)


@click.group(cls=MigtoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migtool")
@project_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Django migrations handled per release.

    \b
      migtool freeze --release 2.0.3      snapshot the release's migrations
      migtool diff 2.0.3 2.0.4            what changed between two releases
      migtool status                      what the database has applied
      migtool rollback 2.0.3 --yes        unapply everything not in 2.0.3
      migtool migrate-safe                migrate all-or-nothing
      migtool verify                      rehearse every release's rollback

    The project is found as manage.py finds it: --settings or
    DJANGO_SETTINGS_MODULE, with the current directory on the Python path.
    """
    ctx.ensure_object(AppContext)


for command in (
    freeze.freeze,
    releases.releases,
    diff.diff,
    status.status,
    rollback.rollback,
    migrate_safe.migrate_safe,
    capture.capture,
    history.history,
    doctor.doctor,
    verify.verify,
    fleet.fleet_group,
    graph.graph,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="migtool")
