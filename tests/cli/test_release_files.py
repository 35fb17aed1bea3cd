"""Commands that only read release files: ``releases`` and ``diff`` between two
current-format files work with no Django settings at all.

Django's own setup is replaced by a function that fails the run (exit 70),
and every test checks afterwards that ``django.conf.settings`` was never
configured.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from migtool.cli.main import cli
from migtool.core.origins import Distribution
from migtool.core.snapshot import AppSnapshot, ReleaseSnapshot
from migtool.django_adapter import bootstrap

D0, D1 = "0" * 64, "1" * 64
OLD = {"shop": {"0001_initial": D0, "0002_price": D0}, "users": {"0001_initial": D0}}
NEW = {"shop": {"0001_initial": D0, "0002_price": D1, "0003_stock": D0}}


def _settings_configured() -> bool:
    conf = sys.modules.get("django.conf")
    return bool(conf and conf.settings.configured)


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DJANGO_SETTINGS_MODULE, no MIGTOOL_* variables, an empty working directory."""
    for var in ("DJANGO_SETTINGS_MODULE", "MIGTOOL_RELEASES_DIR", "MIGTOOL_TRACEBACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def no_django(no_settings: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the command if it sets up Django or reads a setting."""

    def forbidden(*args: object) -> None:
        raise AssertionError("this command must not need the Django project")

    configured_before = _settings_configured()
    monkeypatch.setattr(bootstrap, "setup", forbidden)
    monkeypatch.setattr(bootstrap, "read_setting", forbidden)
    yield
    assert _settings_configured() == configured_before, "django.conf.settings was configured"


class Migtool:
    """Runs ``migtool --releases-dir <dir> ...`` and writes release files into ``<dir>``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.runner = CliRunner()

    def __call__(
        self, *args: str, in_dir: bool = True, env: dict[str, str] | None = None, catch_exceptions: bool = False
    ) -> Result:
        prefix = ["--releases-dir", str(self.directory)] if in_dir else []
        return self.runner.invoke(cli, [*prefix, *args], env=env, catch_exceptions=catch_exceptions)

    def write(self, name: str, content: dict[str, dict[str, str]] | str | bytes) -> Path:
        """Write release ``name``: ``{app: {migration: sha256}}`` as a current-format file
        (each app's last migration is its leaf), or raw text or bytes."""
        if isinstance(content, dict):
            content = ReleaseSnapshot(
                release=name,
                apps={
                    app: AppSnapshot(leaves=(max(ms),), migrations=tuple(sorted(ms)), checksums=ms)
                    for app, ms in content.items()
                },
                django_version="5.2",
            ).to_json()
        path = self.directory / f"{name}.json"
        self.directory.mkdir(exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


@pytest.fixture
def migtool(no_django: None, tmp_path: Path) -> Migtool:
    return Migtool(tmp_path / "releases")


@pytest.fixture
def two_releases(migtool: Migtool) -> Migtool:
    migtool.write("1.0", OLD)
    migtool.write("2.0", NEW)
    return migtool


def first_column(table: str) -> list[str]:
    """The first cell of every body row of an ASCII table."""
    cells = [m.group(1) for m in re.finditer(r"^\|\s*(\w[^\s|]*)\s*\|", table, re.MULTILINE)]
    return cells[1:]  # without the header


VERSIONS = ["2.0.9", "10.0", "2.0.10", "9.9"]
NEWEST_FIRST = ["10.0", "9.9", "2.0.10", "2.0.9"]


def test_releases_table_newest_first(migtool):
    for name in VERSIONS:
        migtool.write(name, OLD)
    result = migtool("releases")
    assert result.exit_code == 0, result.output
    assert first_column(result.stdout) == NEWEST_FIRST


def test_releases_json(migtool):
    for name in VERSIONS:
        migtool.write(name, OLD)
    migtool.write("1.0", '{"shop": "0002_price"}')  # legacy, leaves only
    result = migtool("releases", "--format", "json")
    assert result.exit_code == 0, result.output
    full = {"apps": 2, "migrations": 3, "legacy": False, "problem": None, "source": None, "not_frozen": []}
    assert json.loads(result.stdout) == {
        "schema_version": 1,
        "kind": "releases",
        "releases": [
            *({"name": n, **full} for n in NEWEST_FIRST),
            {**full, "name": "1.0", "apps": 1, "migrations": None, "legacy": True},
        ],
    }


def test_releases_ignores_other_files(migtool):
    migtool.write("1.0", OLD)
    (migtool.directory / "notes.txt").write_text("not a release")
    (migtool.directory / ".2.0.json").write_text("{}")
    (migtool.directory / ".3.0.json.tmp").write_text("{")
    result = migtool("releases", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in json.loads(result.stdout)["releases"]] == ["1.0"]


@pytest.mark.parametrize("stray", ["1².json", "my notes.json"])
def test_files_not_named_like_a_release_are_ignored(migtool, stray):
    migtool.write("1.0", OLD)
    (migtool.directory / stray).write_text("{}")
    result = migtool("releases", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in json.loads(result.stdout)["releases"]] == ["1.0"]


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_releases_in_empty_directory(migtool, fmt):
    result = migtool("releases", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"No releases in {migtool.directory};")
    if fmt == "json":
        assert json.loads(result.stdout)["releases"] == []


def test_diff_table(two_releases):
    result = two_releases("diff", "1.0", "2.0")
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^\|\s*(\S+)\s*\|\s*([+~-] \w+)\s*\|\s*(\S+)\s*\|$", result.stdout, re.MULTILINE)
    assert rows == [
        ("shop", "+ added", "0003_stock"),
        ("shop", "~ edited", "0002_price"),
        ("users", "- removed", "0001_initial"),
    ]
    assert "1.0 -> 2.0" in result.stdout
    assert result.stderr == ""


def test_diff_json(two_releases):
    result = two_releases("diff", "1.0", "2.0", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "schema_version": 1,
        "kind": "diff",
        "old": "1.0",
        "new": "2.0",
        "has_changes": True,
        "unverified": [],
        "not_compared": [],
        "apps": [
            {
                "app": "shop",
                "added": ["0003_stock"],
                "removed": [],
                "edited": ["0002_price"],
                "squashed": [],
                **OWN_APP,
            },
            {"app": "users", "added": [], "removed": ["0001_initial"], "edited": [], "squashed": [], **OWN_APP},
        ],
    }


OWN_APP = {"upstream": False, "distribution": {"old": None, "new": None}}


def test_diff_shows_edits_inside_installed_packages_apart(migtool):
    """wagtail's upgrade rewrote its own 0001_initial: diff lists it after the project's
    own changes, as upstream's, with the distribution's versions (no Django needed)."""
    for release, version, digest, extra in (("1.0", "7.0.10", D0, ()), ("2.0", "8.0.1", D1, ("0002_new",))):
        wagtail = AppSnapshot(
            leaves=(max(("0001_initial", *extra)),),
            migrations=("0001_initial", *extra),
            checksums={"0001_initial": digest, **dict.fromkeys(extra, D0)},
            distribution=Distribution("wagtail", version),
        )
        shop = AppSnapshot(leaves=("0001_initial",), migrations=("0001_initial",), checksums={"0001_initial": digest})
        apps = {"shop": shop, "wagtailcore": wagtail}
        migtool.write(release, ReleaseSnapshot(release, apps, django_version="5.2").to_json())
    result = migtool("diff", "1.0", "2.0")
    assert result.exit_code == 0, result.output
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in result.stdout.splitlines()[4:-1]]
    assert rows == [
        ["shop", "~ edited", "0001_initial"],
        ["wagtailcore (wagtail 7.0.10 -> 8.0.1)", "+ added", "0002_new"],
        ["wagtailcore (wagtail 7.0.10 -> 8.0.1)", "~ edited upstream", "0001_initial"],
    ]
    assert "1 edit(s) are inside installed packages (wagtailcore)" in result.stderr
    payload = json.loads(migtool("diff", "1.0", "2.0", "--format", "json").stdout)
    wagtailcore = payload["apps"][1]
    assert (wagtailcore["upstream"], wagtailcore["edited"]) == (True, ["0001_initial"])
    assert wagtailcore["distribution"] == {
        "old": {"name": "wagtail", "version": "7.0.10"},
        "new": {"name": "wagtail", "version": "8.0.1"},
    }


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["1.0", "2.0", "--check"], 1),
        (["1.0", "2.0"], 0),
        (["2.0", "2.0", "--check"], 0),
    ],
)
def test_diff_check(two_releases, args, code):
    result = two_releases("diff", *args)
    assert result.exit_code == code, result.output


def test_diff_without_differences(two_releases):
    result = two_releases("diff", "2.0", "2.0", "--check", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["has_changes"] is False
    assert result.stderr == "No differences between 2.0 and 2.0.\n"


def test_diff_with_a_legacy_file_needs_the_project(no_settings, tmp_path):
    """A leaves-only file is completed from the code on disk, so it needs Django settings."""
    migtool = Migtool(tmp_path / "releases")
    migtool.write("1.0", '{"shop": "0002_price"}')
    migtool.write("2.0", NEW)
    result = migtool("diff", "1.0", "2.0")
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == "Error: No Django settings module given."


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", "a\\b", "two words"])
@pytest.mark.parametrize("position", ["old", "new"])
def test_invalid_release_name(two_releases, name, position):
    args = [name, "2.0"] if position == "old" else ["1.0", name]
    result = two_releases("diff", *args)
    assert result.exit_code == 2, result.output
    error, hint = result.stderr.splitlines()
    assert error == f"Error: Invalid release name {name!r}."
    assert hint.startswith("Hint: Use letters, digits")
    assert result.stdout == ""


def test_unknown_release_names_the_known_ones(two_releases):
    result = two_releases("diff", "1.0", "3.0")
    assert result.exit_code == 2, result.output
    error = result.stderr.splitlines()[0]
    assert error.startswith("Error: Unknown release '3.0'")
    assert error.endswith("Known releases: 2.0, 1.0.")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "the top level is not a JSON object"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
    ids=["not-json", "list", "not-utf8"],
)
def test_malformed_release_file(two_releases, content, problem):
    """A command that names the broken release refuses it (exit 2)."""
    path = two_releases.write("2.0", content)
    result = two_releases("diff", "1.0", "2.0")
    assert result.exit_code == 2, result.output
    error = result.stderr.splitlines()[0]
    assert error.startswith(f"Error: Malformed release file {path}: {problem}")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{not json", "not valid JSON"), (b"\xff\xfe{}", "not UTF-8 text")],
    ids=["not-json", "not-utf8"],
)
def test_releases_lists_the_good_files_and_flags_the_broken_one(two_releases, content, problem):
    """One broken file does not hide the others: 'releases' lists every file, the
    broken one as a row saying why, and exits 0."""
    path = two_releases.write("1.5", content)
    result = two_releases("releases")
    assert result.exit_code == 0, result.output
    assert first_column(result.stdout) == ["2.0", "1.5", "1.0"]
    assert "! unreadable: Malformed release file" in result.stdout
    assert result.stderr.startswith(f"Warning: Malformed release file {path}: {problem}")
    payload = json.loads(two_releases("releases", "--format", "json").stdout)
    rows = {r["name"]: r for r in payload["releases"]}
    assert rows["1.5"]["apps"] is None and rows["1.5"]["problem"].startswith(f"Malformed release file {path}")
    assert rows["2.0"] == {"name": "2.0", "apps": 1, "migrations": 3, "legacy": False, "problem": None} | {
        "source": None,
        "not_frozen": [],
    }


@pytest.mark.parametrize(
    ("args", "error_type"),
    [
        (["diff", "../x", "2.0"], "InvalidReleaseNameError"),
        (["diff", "1.0", "3.0"], "UnknownReleaseError"),
        (["diff", "1.0", "2.0"], None),
    ],
)
def test_errors_as_json(two_releases, args, error_type):
    """With --format json an error is also a JSON document on stdout."""
    if error_type is None:
        two_releases.write("2.0", "{")
        error_type = "MalformedReleaseError"
    result = two_releases(*args, "--format", "json")
    assert result.exit_code == 2, result.output
    payload = json.loads(result.stdout)
    assert (payload["kind"], payload["error"]["type"], payload["error"]["exit_code"]) == ("error", error_type, 2)
    assert result.stderr.startswith("Error: ")


def test_freeze_without_settings_is_a_configuration_error(no_settings, tmp_path):
    migtool = Migtool(tmp_path / "releases")
    result = migtool("freeze", "--release", "1.0")
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        "Error: No Django settings module given.",
        "Hint: Pass --settings mysite.settings or set DJANGO_SETTINGS_MODULE "
        "(and --pythonpath if the project is not in the current directory).",
    ]
    assert result.stdout == ""
    assert not migtool.directory.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--releases-dir", "{dir}", "releases", "--format", "json"],
        ["releases", "--releases-dir", "{dir}", "--format", "json"],
        ["releases", "--format", "json", "--releases-dir", "{dir}"],
        ["--releases-dir", "elsewhere", "releases", "--releases-dir", "{dir}", "--format", "json"],
    ],
    ids=["before", "after", "last", "subcommand-wins"],
)
def test_project_options_before_or_after_the_subcommand(two_releases, args):
    result = two_releases(*(a.format(dir=two_releases.directory) for a in args), in_dir=False)
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in json.loads(result.stdout)["releases"]] == ["2.0", "1.0"]


def test_releases_dir_from_environment(two_releases, tmp_path):
    env = {"MIGTOOL_RELEASES_DIR": str(two_releases.directory)}
    result = two_releases("releases", "--format", "json", in_dir=False, env=env)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["releases"]) == 2

    env = {"MIGTOOL_RELEASES_DIR": str(tmp_path / "empty")}
    result = two_releases("releases", "--format", "json", env=env)  # --releases-dir wins
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["releases"]) == 2


def test_default_releases_dir_is_releases_in_the_current_directory(two_releases, tmp_path):
    assert two_releases.directory == tmp_path / "releases"  # and tmp_path is the working directory
    result = two_releases("releases", "--format", "json", in_dir=False)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["releases"]) == 2


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--traceback", "diff", "../x", "2.0"], None),
        (["diff", "../x", "2.0", "--traceback"], None),
        (["diff", "../x", "2.0"], {"MIGTOOL_TRACEBACK": "1"}),
    ],
    ids=["group-option", "command-option", "environment"],
)
def test_traceback_is_shown_and_the_error_still_reported(two_releases, args, env):
    """--traceback adds the traceback; the Error/Hint lines, the JSON error and the
    exit code stay exactly those of a run without it."""
    plain = two_releases("diff", "../x", "2.0", "--format", "json")
    result = two_releases(*args, "--format", "json", env=env)
    assert result.exit_code == plain.exit_code == 2, result.output
    assert "Traceback" in result.stderr and "InvalidReleaseNameError" in result.stderr, result.stderr
    assert result.stderr.splitlines()[-2:] == plain.stderr.splitlines()
    assert result.stdout == plain.stdout and json.loads(result.stdout)["error"]["exit_code"] == 2
