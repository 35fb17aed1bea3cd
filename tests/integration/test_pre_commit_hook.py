"""``.pre-commit-hooks.yaml``, run by the real ``pre-commit`` (``try-repo``, which
uses this checkout as the hook repository) in a temporary git repository holding
a copy of the example project: the hook passes on a clean graph, fails with
doctor's exit code 1 when a migration creates conflicting leaves, and is
skipped when no migration changed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from projects import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
CONFLICTING = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_merge_product_price_stock")]
    operations = []
"""


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    if shutil.which("pre-commit") is None:
        pytest.fail("pre-commit is not installed (it is in the 'test' extra)")
    project = tmp_path / "shopsite"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "DJANGO_SETTINGS_MODULE": "shopsite.settings",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "NO_COLOR": "1",
    }
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "shopsite"]):
        assert run(args, project, env).returncode == 0
    return project, env


def hook(project: Path, env: dict[str, str], *files: str) -> subprocess.CompletedProcess[str]:
    return run(["pre-commit", "try-repo", str(ROOT), "migtool-doctor", "--files", *files], project, env)


def test_the_hook_gates_changed_migrations(repo: tuple[Path, dict[str, str]]) -> None:
    project, env = repo
    clean = hook(project, env, "catalog/migrations/0005_backfill_uppercase_sku.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "migtool doctor --strict" in clean.stdout and "Passed" in clean.stdout

    skipped = hook(project, env, "shopsite/settings.py")
    assert skipped.returncode == 0 and "Skipped" in skipped.stdout, skipped.stdout

    (project / "catalog" / "migrations" / "0005_other.py").write_text(CONFLICTING)
    assert run(["git", "add", "-A"], project, env).returncode == 0
    failed = hook(project, env, "catalog/migrations/0005_other.py")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and "conflicting-leaves" in failed.stdout, failed.stdout
