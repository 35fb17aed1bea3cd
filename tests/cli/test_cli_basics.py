"""The CLI with no Django project at all: help, version, and the error boundary
(one exit code per error family, errors on stderr, JSON errors on stdout)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

import migtool.errors
from migtool import __version__, api
from migtool.cli.main import INTERNAL_ERROR, cli, exit_code_for
from migtool.errors import (
    ConfigurationError,
    ExecutionError,
    InputError,
    LockHeldError,
    MigtoolError,
    PlanRefusedError,
    RestoreFailedError,
)

# The documented table (README / style guide), most specific family first.
DOCUMENTED_CODES: list[tuple[type[MigtoolError], int]] = [
    (RestoreFailedError, 7),
    (ExecutionError, 6),
    (LockHeldError, 5),
    (PlanRefusedError, 4),
    (ConfigurationError, 3),
    (InputError, 2),
]

ERRORS = sorted(
    (
        obj
        for obj in vars(migtool.errors).values()
        if isinstance(obj, type) and issubclass(obj, MigtoolError) and obj is not MigtoolError
    ),
    key=lambda cls: cls.__name__,
)
COMMANDS = sorted(cli.commands)


def documented_code(cls: type[MigtoolError]) -> int | None:
    return next((code for family, code in DOCUMENTED_CODES if issubclass(cls, family)), None)


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Callable[..., Result]:
    """``run(*args)``: invoke ``migtool`` in an empty directory with no Django settings."""
    for var in ("DJANGO_SETTINGS_MODULE", "MIGTOOL_RELEASES_DIR", "MIGTOOL_TRACEBACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_command(run, flag):
    result = run(flag)
    assert result.exit_code == 0, result.output
    assert "Django migrations handled per release." in result.stdout
    for command in COMMANDS:
        assert f"  {command} " in result.stdout, command


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"migtool, version {__version__}\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(run, command):
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: cli {command} ")
    assert "--releases-dir" in result.stdout
    assert result.stderr == ""
    # Click wraps at hyphens: "Read-only." came out as "Read- only." at the end of doctor's help.
    assert not re.search(r"[A-Za-z]- [a-z]", result.stdout), result.stdout


@pytest.mark.parametrize(
    "args",
    [["rollback", "1.0", "--last"], ["rollback"], ["migrate-safe", "shop", "--release", "1.0"]],
    ids=["release-and-last", "neither", "app-and-release"],
)
def test_contradictory_arguments_are_an_error_with_a_hint(run, args):
    """Exit 2, with the one-line Error and the Hint every other error has, before any setup."""
    result = run(*args)
    assert result.exit_code == 2, result.output
    error, hint = result.stderr.splitlines()
    assert error.startswith("Error: Give either ") and hint.startswith("Hint: "), result.stderr


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_exit_code_for_every_error(error):
    expected = documented_code(error)
    assert expected is not None, f"{error.__name__} belongs to no documented error family"
    assert exit_code_for(error("x")) == expected


def test_no_error_is_an_internal_error():
    internal = [cls.__name__ for cls in ERRORS if exit_code_for(cls("x")) == INTERNAL_ERROR]
    assert internal == []


def test_bare_migtool_error_is_an_internal_error():
    assert exit_code_for(MigtoolError("x")) == INTERNAL_ERROR


@pytest.fixture
def releases_raising(monkeypatch: pytest.MonkeyPatch) -> Callable[[BaseException], None]:
    """Make ``migtool releases`` fail with a given exception."""

    def install(exc: BaseException) -> None:
        def fail(project: api.Project) -> list[api.ReleaseSummary]:
            raise exc

        monkeypatch.setattr(api, "list_releases", fail)

    return install


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_error_is_one_line_and_a_hint_on_stderr(run, releases_raising, error):
    releases_raising(error("Something is wrong.", hint="Do this next.", thing="x"))
    result = run("releases")
    assert result.exit_code == documented_code(error), result.output
    assert result.stderr == "Error: Something is wrong.\nHint: Do this next.\n"
    assert result.stdout == ""


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_error_as_json_on_stdout(run, releases_raising, error):
    releases_raising(error("Something is wrong.", hint=None, thing="x"))
    result = run("releases", "--format", "json")
    assert result.exit_code == documented_code(error), result.output
    assert json.loads(result.stdout) == {
        "schema_version": 1,
        "kind": "error",
        "error": {
            "type": error.__name__,
            "message": "Something is wrong.",
            "hint": None,
            "exit_code": documented_code(error),
            "details": {"thing": "x"},
        },
    }
    assert result.stderr == "Error: Something is wrong.\n"


def test_unexpected_exception_is_an_internal_error_with_traceback(run, releases_raising):
    releases_raising(RuntimeError("boom"))
    result = run("releases")
    assert result.exit_code == INTERNAL_ERROR, result.output
    assert "RuntimeError: boom" in result.stderr
    assert "internal error" in result.stderr
    assert result.stdout == ""
