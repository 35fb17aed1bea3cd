"""Profile one migtool (or manage.py) command on a generated benchmark project.

    python tests/bench/profiler.py large --db full -- rollback r1 --yes
    python tests/bench/profiler.py large --db empty -- migrate-safe --plan
    python tests/bench/profiler.py large --db full -- manage.py migrate a039 0044_item_f0044

``--db`` is the state the command starts from, on a fresh SQLite copy:
``full`` (everything applied; built once with ``manage.py migrate`` and
kept in the work directory), ``r1`` (``full`` rolled back to release r1,
kept too), ``empty`` (an empty file) or ``none`` (no file).  The command runs
under cProfile in a subprocess; the profile is saved (``--out``) and its top
entries are printed, by cumulative time (migtool's functions and Django's
migration machinery) and by internal time.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # noqa: E402

FOCUS = (
    r"migtool/|migrations/executor\.py|migrations/loader\.py:\d+\(build_graph|"
    r"state\.py:\d+\((render|reload_model|clone|add_model|apps)|migration\.py|django/__init__\.py:\d+\(setup|"
    r"registry\.py:\d+\(get_swappable_settings_name|commands/(migrate|showmigrations)\.py"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", help="preset as for run.py, e.g. large or 'large:rel_every=0'")
    parser.add_argument("--db", choices=("full", "r1", "empty", "none"), default="full")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "migtool-bench")
    parser.add_argument("--out", type=Path, help="where to save the profile [WORKDIR/profiles/...]")
    parser.add_argument("--top", type=int, default=35)
    parser.epilog = "After the options: -- then migtool's arguments, or manage.py and its arguments."
    argv = sys.argv[1:]
    if "--" not in argv:
        parser.error("give the command to profile after --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("give the command to profile after --")
    preset, shape = gen.parse_preset(args.preset)
    workdir = args.workdir.resolve()
    project = workdir / "projects" / preset
    gen.generate(shape, project, sys.executable)
    dbdir = workdir / "db-profile" / preset
    dbdir.mkdir(parents=True, exist_ok=True)

    def run(argv: list[str], db: Path, **kw: object) -> subprocess.CompletedProcess[str]:
        env = gen.child_env(f"sqlite:///{db}")
        return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, check=True, **kw)

    full, r1 = dbdir / "full.sqlite3", dbdir / "r1.sqlite3"
    if args.db in ("full", "r1") and not full.exists():
        print("building the fully migrated database (once)...", file=sys.stderr)
        run([sys.executable, "manage.py", "migrate"], dbdir / "building.sqlite3")
        (dbdir / "building.sqlite3").rename(full)
    if args.db == "r1" and not r1.exists():
        shutil.copyfile(full, dbdir / "building.sqlite3")
        run([sys.executable, "-m", "migtool", "rollback", "r1", "--yes"], dbdir / "building.sqlite3")
        (dbdir / "building.sqlite3").rename(r1)
    db = dbdir / "run.sqlite3"
    for suffix in ("", ".migtool-lock"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if args.db in ("full", "r1"):
        shutil.copyfile(full if args.db == "full" else r1, db)
    elif args.db == "empty":
        db.touch()

    slug = "_".join(c.replace("/", "-") for c in command)[:80]
    out = args.out or workdir / "profiles" / f"{preset}-{args.db}-{slug}.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    target = [command[0], *command[1:]] if command[0] == "manage.py" else ["-m", "migtool", *command]
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), *target]
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=project, env=gen.child_env(f"sqlite:///{db}"), capture_output=True, text=True)
    print(f"$ {' '.join(command)}  -> exit {result.returncode}, {time.perf_counter() - start:.1f} s under cProfile")
    if result.returncode not in (0,):
        print(result.stderr[-2000:])
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(FOCUS, args.top)
    stats.sort_stats("tottime").print_stats(15)
    print(f"profile saved: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
