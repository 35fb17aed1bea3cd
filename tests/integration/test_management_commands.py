"""``manage.py`` commands (``"migtool"`` in ``INSTALLED_APPS``) on a copy of the
example project: each is the CLI command it wraps, so the same arguments give
the same output and the same exit code as ``python -m migtool``, and the
database ends exactly where the CLI would leave it (checked in
``django_migrations`` and the schema)."""

from __future__ import annotations

import json
import sys

import pytest
from projects import Project, ProjectFactory, Result

# manage.py name -> CLI name; the names and why they were chosen are in the README.
COMMANDS = {
    "migtool_freeze": "freeze",
    "migtool_releases": "releases",
    "migtool_diff": "diff",
    "migtool_status": "status",
    "migtool_rollback": "rollback",
    "migrate_safe": "migrate-safe",
    "migtool_history": "history",
    "migtool_doctor": "doctor",
    "migtool_graph": "graph",
    "migtool_verify": "verify",
    "migtool_fleet": "fleet",
    "migtool_capture": "capture",
}
CLI_NAMES = {cli: name for name, cli in COMMANDS.items()}
WITH_MIGTOOL = 'INSTALLED_APPS = [*INSTALLED_APPS, "migtool"]\n'


def manage(project: Project, *args: str) -> Result:
    return project.run([sys.executable, "manage.py", *args])


@pytest.fixture
def shopsite(make_project: ProjectFactory) -> Project:
    return make_project.example(WITH_MIGTOOL)


def same_as_cli(project: Project, *args: str) -> Result:
    """Run ``migtool ARGS`` both ways; assert equal stdout and exit code."""
    via_cli = project.migtool(*args)
    via_manage = manage(project, CLI_NAMES[args[0]], *args[1:])
    assert (via_manage.code, via_manage.stdout) == (via_cli.code, via_cli.stdout), (via_manage, via_cli)
    return via_manage


def release_rows(project: Project, release: str) -> set[tuple[str, str]]:
    data = json.loads((project.root / "releases" / f"{release}.json").read_text())
    return {(app, name) for app, entry in data["apps"].items() for name in entry["migrations"]}


@pytest.mark.backends
def test_commands_change_the_database_as_the_cli_does(shopsite: Project) -> None:
    db = shopsite.db
    assert manage(shopsite, "migrate_safe", "--release", "1.1.0").code == 0
    assert db.applied() == release_rows(shopsite, "1.1.0")
    assert "stock_reserved" in db.columns("orders_order")

    rolled = manage(shopsite, "migtool_rollback", "1.0.0", "--yes")
    assert rolled.code == 0, rolled
    assert db.applied() == release_rows(shopsite, "1.0.0")
    assert "stock_reserved" not in db.columns("orders_order")

    assert manage(shopsite, "migrate_safe").code == 0
    at_disk = db.applied()
    assert ("catalog", "0005_backfill_uppercase_sku") in at_disk
    # 2.0.0 has an irreversible RunPython: refused (exit 4) both ways, nothing touched.
    refused = same_as_cli(shopsite, "rollback", "1.0.0", "--yes")
    assert refused.code == 4 and "Error:" in refused.stderr and "Traceback" not in refused.stderr
    assert db.applied() == at_disk


def test_read_only_commands_print_and_exit_as_the_cli(shopsite: Project) -> None:
    assert manage(shopsite, "migrate_safe", "--release", "1.1.0").code == 0
    assert same_as_cli(shopsite, "diff", "1.0.0", "2.0.0", "--check").code == 1
    unknown = same_as_cli(shopsite, "diff", "nope", "--format", "json")
    assert unknown.code == 2 and '"kind": "error"' in unknown.stdout and "Hint:" in unknown.stderr
    assert same_as_cli(shopsite, "status", "--format", "json").code == 0
    assert same_as_cli(shopsite, "graph", "1.0.0", "--format", "dot").stdout.startswith("digraph")
    assert same_as_cli(shopsite, "freeze", "--release", "2.0.0").code == 4  # the release exists

    # Help is the CLI's, under the manage.py name.
    helped = manage(shopsite, "help", "migtool_rollback")
    cli_help = shopsite.migtool("rollback", "--help")
    assert helped.stdout.splitlines()[0] == "Usage: manage.py migtool_rollback [OPTIONS] [RELEASE]"
    assert helped.stdout.splitlines()[1:] == cli_help.stdout.splitlines()[1:]

    # call_command: the CLI's exit code is CommandError.returncode.  migtool adds
    # no models, so makemigrations finds nothing to do with it installed.
    called = manage(
        shopsite,
        "shell",
        "-c",
        "from django.core.management import call_command, CommandError\n"
        "try:\n"
        "    call_command('migtool_diff', '1.0.0', '2.0.0', '--check', '--format', 'json')\n"
        "except CommandError as error:\n"
        "    print('returncode', error.returncode)\n"
        "call_command('makemigrations', '--check', '--dry-run')\n",
    )
    assert '"kind": "diff"' in called.stdout and "returncode 1" in called.stdout, called
    assert called.code == 0 and "No changes detected" in called.stdout, called


def test_every_cli_command_has_a_management_command() -> None:
    from migtool.cli.main import cli

    assert set(COMMANDS.values()) == set(cli.commands), "a CLI command without a manage.py name (or the reverse)"
