"""``freeze``'s git options without a project: usage errors come before anything is read."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from migtool.api.git_freeze import release_namer
from migtool.cli.main import cli
from migtool.errors import InputError


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Callable[..., Result]:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return lambda *args: CliRunner().invoke(cli, ["freeze", *args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "freeze needs --release NAME (or --git-tags PATTERN)."),
        (("--git-tags", "v*", "--release", "1"), "--git-tags names the releases itself."),
        (("--git-tags", "v*", "--git-ref", "v1"), "--git-tags names the releases itself."),
        (("--release", "1", "--name-from-tag", "s/v//"), "--name-from-tag only applies to --git-tags."),
        (("--release", "1", "--skip-unreadable"), "--external and --skip-unreadable apply to freezing from git."),
        (("--release", "1", "--external", "current"), "--external and --skip-unreadable apply to freezing from git."),
    ],
)
def test_option_combinations_that_make_no_sense_are_bad_usage(run, args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {message}\nHint: ")


@pytest.mark.parametrize(
    ("expression", "tag", "release"),
    [
        (None, "v2.0.3", "v2.0.3"),
        ("s/^v//", "v2.0.3", "2.0.3"),
        ("s|^release-(.*)$|\\1|", "release-1.2", "1.2"),
        ("s/-/+/", "2.0-rc1-x", "2.0+rc1-x"),
    ],
)
def test_release_names_from_tags_follow_sed_substitution(expression, tag, release):
    assert release_namer(expression)(tag) == release


@pytest.mark.parametrize("expression", ["^v", "s/^v/", "s/(/x/"])
def test_a_bad_name_from_tag_expression_is_bad_input(expression):
    with pytest.raises(InputError):
        release_namer(expression)
