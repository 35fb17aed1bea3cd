"""Measure ``migtool freeze --git-tags`` (issue #16) on a generated project in a git repository.

The project is a benchmark preset (``generate.py``).  Its history gets
``--tags`` tags: ``v1`` is the code of release ``r1`` (the tails left out),
``v2`` adds the tails, and each later tag adds one migration to one app, as
a release series does.  Then, as wall time of a subprocess (interpreter start
and ``django.setup()`` included), median over ``--runs``:

* ``freeze --release r2`` on the work tree (imports every migration: the baseline);
* ``freeze --release r2 --git-ref v2`` (one tag, every blob read and parsed);
* ``freeze --git-tags 'v*' --force`` (every tag; per further tag = (all - one) / (tags - 1));
* inside one process, the CPU time of the setup, of a cold tag and of the next tag.

    python tests/bench/git_freeze.py                     # large preset (~2,000 migrations), 20 tags
    python tests/bench/git_freeze.py --preset huge --tags 40
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # noqa: E402

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def build(preset: str, tags: int, root: Path) -> int:
    """Write the repository; return the number of migrations at the last tag."""
    _, shape = gen.parse_preset(preset)
    apps = gen.build(shape)
    gen.write_project(apps, root, tails=False)
    (root / ".gitignore").write_text("db.sqlite3\nreleases/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "r1")
    git(root, "tag", "v1")
    gen.write_project(apps, root, tails=True)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "r2")
    git(root, "tag", "-a", "v2", "-m", "r2")
    for n in range(3, tags + 1):
        app = apps[n % len(apps)]
        last = max(p.stem for p in (root / app.label / "migrations").glob("0*.py"))
        name = f"{9000 + n:04d}_extra"
        source = (
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
            f"    dependencies = [({app.label!r}, {last!r})]\n    operations = []\n"
        )
        (root / app.label / "migrations" / f"{name}.py").write_text(source)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"r{n}")
        git(root, "tag", f"v{n}")
    return sum(1 for _ in root.glob("*/migrations/0*.py"))


def timed(root: Path, runs: int, *args: str) -> tuple[float, float]:
    """Median wall time and CPU time (user+sys of the child: far less sensitive to load)."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "migtool", *args], cwd=root, env=gen.child_env(), capture_output=True, text=True
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            raise SystemExit(f"migtool {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return statistics.median(walls), statistics.median(cpus)


# Inside one process: CPU time of setting up (django.setup, app folders), of one tag read
# cold (every blob read and parsed) and of the next tag (only changed folders read again).
IN_PROCESS = """
import json, resource
def cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
from migtool.api import Project
from migtool.api.git_freeze import GitFreezer
times, start = {}, cpu()
freezer = GitFreezer(Project())
times["setup"], start = cpu() - start, cpu()
freezer.snapshot("r2", "v2")
times["cold tag"], start = cpu() - start, cpu()
freezer.snapshot("r3", "v3")
times["next tag"] = cpu() - start
print(json.dumps(times))
"""


def in_process(root: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", IN_PROCESS], cwd=root, env=gen.child_env(), capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="large")
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="migtool-bench-git-"))
    try:
        root = base / "project"
        migrations = build(args.preset, args.tags, root)
        live = timed(root, args.runs, "freeze", "--release", "r2", "--force")
        one = timed(root, args.runs, "freeze", "--release", "r2", "--git-ref", "v2", "--force")
        every = timed(root, args.runs, "freeze", "--git-tags", "v*", "--force")
        print(f"preset {args.preset}: {migrations} migration files at the last tag, {args.tags} tags; wall / CPU")
        print(f"freeze --release r2 (work tree, imports): {live[0]:6.2f} s / {live[1]:6.2f} s")
        print(f"freeze --git-ref v2 (one tag, cold):       {one[0]:6.2f} s / {one[1]:6.2f} s")
        print(f"freeze --git-tags 'v*' ({args.tags} tags):       {every[0]:6.2f} s / {every[1]:6.2f} s")
        per_tag = [(e - o) / (args.tags - 1) for e, o in zip(every, one, strict=True)]
        print(f"each further tag:                          {per_tag[0]:6.3f} s / {per_tag[1]:6.3f} s")
        inside = in_process(root)
        print("in one process, CPU: " + ", ".join(f"{k} {v:.3f} s" for k, v in inside.items()))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
