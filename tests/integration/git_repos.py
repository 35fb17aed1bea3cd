"""Real git repositories around test projects: commits, tags, branches, merges, worktrees.

A ``GitProject`` wraps a ``projects.Project`` whose root is a git work tree.
Tests write the code of each release with the project helpers, commit it and
tag it, then compare ``freeze --git-ref`` with a freeze run on a real checkout
of the same ref (``git worktree add``), the oracle for reading git objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projects import Project, Result

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "migtool tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "migtool tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
}
IGNORED = "db.sqlite3\n*.migtool-lock\n__pycache__/\nreleases/\n"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a config of its own; fail loudly."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@dataclass
class GitProject:
    """A test project whose root is a git repository."""

    project: Project
    root: Path  # the repository's top level: the project's root or a folder above it

    @classmethod
    def init(cls, project: Project, toplevel: Path | None = None) -> GitProject:
        root = toplevel or project.root
        project.env.update(GIT_ENV)
        (root / ".gitignore").write_text(IGNORED)
        git(root, "init", "-q", "-b", "main")
        return cls(project, root)

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def tag(self, name: str, *, annotated: bool = False) -> None:
        if annotated:
            self.git("tag", "-a", name, "-m", f"release {name}")
        else:
            self.git("tag", name)

    def checkout_freeze(self, ref: str, release: str, out: Path) -> dict[str, Any]:
        """The oracle: ``freeze`` run on a real checkout of ``ref`` (a git worktree)."""
        tree = self.root.parent / f"{self.root.name}-checkout-{release}"
        self.git("worktree", "add", "-q", "--detach", str(tree), ref)
        try:
            cwd = tree / self.project.root.relative_to(self.root)
            env = {**self.project.child_env(), "PYTHONPATH": str(cwd)}
            argv = [sys.executable, "-m", "migtool", "freeze", "--release", release, "--releases-dir", str(out)]
            proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, Result(proc.returncode, proc.stdout, proc.stderr, tuple(argv))
        finally:
            self.git("worktree", "remove", "--force", str(tree))
        return read_release(out, release)


def read_release(directory: Path, release: str) -> dict[str, Any]:
    return json.loads((directory / f"{release}.json").read_text())
