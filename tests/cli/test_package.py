"""The package as it would be published: ``python -m build`` gives an sdist and a
wheel that ``twine check`` accepts, and the wheel installs into a fresh
virtualenv whose ``migtool --version`` runs.

It runs once per test session (it takes no backend), on a copy of the
sources, so a build never writes ``build/`` or ``*.egg-info`` into the
checkout that concurrent CI legs share.  Building and installing a wheel does not
depend on Django's version, so CI runs it on the default leg only (``default_leg``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from migtool import __version__

pytestmark = pytest.mark.default_leg

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"$ {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result


def test_built_wheel_installs_into_a_fresh_virtualenv_and_runs(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "migtool", source / "migtool", ignore=shutil.ignore_patterns("__pycache__"))

    run(sys.executable, "-m", "build", "--outdir", tmp_path / "dist", source, cwd=tmp_path)
    built = sorted(p.name for p in (tmp_path / "dist").iterdir())
    assert built == [f"migtool-{__version__}-py3-none-any.whl", f"migtool-{__version__}.tar.gz"], built
    run(sys.executable, "-m", "twine", "check", "--strict", *sorted((tmp_path / "dist").iterdir()), cwd=tmp_path)

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    wheel = tmp_path / "dist" / built[0]
    run(fresh / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=tmp_path)
    result = run(fresh / "bin" / "migtool", "--version", cwd=tmp_path)
    assert result.stdout == f"migtool, version {__version__}\n"
    metadata = run(fresh / "bin" / "python", "-m", "pip", "show", "--verbose", "migtool", cwd=tmp_path).stdout
    assert "Framework :: Django :: 6.1" in metadata and "Programming Language :: Python :: 3.13" in metadata
