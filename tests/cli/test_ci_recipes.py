"""The CI recipes in the README are valid YAML, run the three checks the
README promises (``diff --check`` against the last release, ``doctor
--strict``, ``verify``) against a PostgreSQL service, and every ``migtool``
command line in them parses with the real CLI (an unknown option or a typo
fails here, not in a user's pipeline).  PyYAML comes with pre-commit (the
``test`` extra)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from migtool.cli.main import cli

README = (Path(__file__).parents[2] / "README.md").read_text()


def recipe(title: str) -> dict:
    """The first ```yaml block after the bold ``title`` in the CI recipes section."""
    section = README[README.index("## CI recipes") :]
    match = re.search(rf"\*\*{re.escape(title)}\*\*.*?```yaml\n(.*?)\n```\n", section, re.S)
    assert match, f"no YAML block after **{title}**"
    return yaml.safe_load(match.group(1))


def commands(lines: list[str]) -> list[list[str]]:
    """Every ``migtool ...`` invocation in shell lines, up to a pipe or redirection."""
    found = []
    for line in lines:
        for piece in re.findall(r"migtool [^|>;)]*", line):
            args = shlex.split(piece.replace('"$LAST"', "1.0.0"))[1:]
            found.append(args)
    return found


def github_lines() -> list[str]:
    job = recipe("GitHub Actions")["jobs"]["migrations"]
    assert "postgres" in job["services"]
    return [line for step in job["steps"] if "run" in step for line in step["run"].splitlines()]


def gitlab_lines() -> list[str]:
    job = recipe("GitLab CI")["migrations"]
    assert any(s["name"].startswith("postgres") for s in job["services"])
    return list(job["script"])


@pytest.mark.parametrize("lines", [github_lines, gitlab_lines], ids=["github", "gitlab"])
def test_recipe_runs_the_three_checks_with_valid_command_lines(lines) -> None:  # type: ignore[no-untyped-def]
    invocations = commands(lines())
    joined = [" ".join(args) for args in invocations]
    assert "diff 1.0.0 --check" in joined
    assert any(j.startswith("doctor --strict") for j in joined)
    assert any(j.startswith("verify") for j in joined)
    for args in invocations:
        group = cli.make_context("migtool", list(args))
        command = cli.commands[args[0]]
        command.make_context(args[0], list(args[1:]), parent=group)  # raises on a bad option


def test_pre_commit_recipe_names_the_shipped_hook() -> None:
    config = recipe("pre-commit.")  # the block under **pre-commit.**
    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in config["repos"][0]["hooks"]] == [h["id"] for h in hooks] == ["migtool-doctor"]
    assert hooks[0]["entry"] == "migtool doctor --strict" and hooks[0]["pass_filenames"] is False
