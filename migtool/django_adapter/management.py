"""``manage.py`` commands that are migtool's CLI commands, under Django's roof.

Why it exists: with ``"migtool"`` in ``INSTALLED_APPS``, Django developers can
run migtool where they run everything else (``manage.py migtool_rollback 2.0.3
--yes``).  A command here parses nothing itself: its arguments go unchanged to
the Click command, inside migtool's own root group, so options, help, the
``Error:``/``Hint:`` lines and the exit codes are the CLI's by construction.
"""

from __future__ import annotations

import os
import sys
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError


def run_cli(command: str, prog: str, name: str, args: list[str]) -> int:
    """Run CLI ``command`` as ``prog name ARGS`` and return its exit code."""
    from migtool.cli.main import MigtoolGroup, cli

    group = MigtoolGroup(
        name=prog,
        commands={name: cli.commands[command]},
        params=cli.params,
        callback=cli.callback,
        context_settings=cli.context_settings,
    )
    try:
        group.main(args=[name, *args], prog_name=prog, standalone_mode=True)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    return 0


class ClickCommand(BaseCommand):
    """A Django management command that is the CLI command ``cli_command``."""

    cli_command: ClassVar[str]

    @property
    def help(self) -> str:  # type: ignore[override]
        from migtool.cli.main import cli

        return cli.commands[self.cli_command].get_short_help_str(limit=200)

    def run_from_argv(self, argv: list[str]) -> None:
        """``manage.py NAME ARGS``: exit with the CLI's exit code."""
        sys.exit(run_cli(self.cli_command, os.path.basename(argv[0]), argv[1], argv[2:]))

    def print_help(self, prog_name: str, subcommand: str) -> None:
        """``manage.py help NAME``: the CLI command's own help."""
        run_cli(self.cli_command, os.path.basename(prog_name), subcommand, ["--help"])

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        """For ``call_command``: every argument Django's own options do not take
        is kept, in order, for the CLI command (``cli_args``)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_known_args = parser.parse_known_args

        def parse_args(args: Any = None, namespace: Any = None) -> Any:
            known, rest = parse_known_args(args, namespace)
            known.cli_args = rest
            return known

        parser.parse_args = parse_args
        return parser

    def handle(self, *args: Any, **options: Any) -> None:
        """``call_command(NAME, "2.0.3", "--yes")``: raise ``CommandError`` with the
        CLI's exit code as ``returncode`` when it fails."""
        code = run_cli(self.cli_command, "call_command", self.cli_command, [*args, *options.get("cli_args", ())])
        if code:
            raise CommandError(f"migtool {self.cli_command} exited with status {code}.", returncode=code)


def management_command(cli_command: str) -> type[ClickCommand]:
    """The ``Command`` class of a management command module."""
    return type("Command", (ClickCommand,), {"cli_command": cli_command})
