"""migtool's benchmark (issue #6): migtool against stock Django on generated projects.

For each preset (tests/bench/generate.py) and backend it times, as wall time of
a subprocess (interpreter start included, as a user waits for it), median /
min / max over ``--runs`` rounds:

``read``      no-DB and read-only commands: ``migtool freeze``, ``migtool diff r1 r2``,
              ``migtool status``, ``migtool rollback r1 --dry-run`` against
              ``manage.py showmigrations`` and ``manage.py migrate --plan``;
``rollback``  ``migtool rollback r1 --yes`` against the per-app sequence
              ``manage.py migrate APP TARGET`` (dependents first), each run on a
              fresh copy of a fully migrated database;
``migrate``   ``migtool migrate-safe`` against ``manage.py migrate``, each run on a
              fresh empty database.

Commands of a group are interleaved round by round (order alternating) so the
ratios compare runs made side by side on a noisy machine; the ratios of the
issue's targets are printed with PASS/FAIL and written, with every sample, to
``--json``.  CPU time (user+sys of the child processes) is recorded next to the
wall time as a cross-check: it is far less sensitive to other load on the machine.
With ``--instructions`` the commands of the read targets also run once each under
valgrind's callgrind: instruction counts do not move with load at all.

    python tests/bench/run.py                                   # small,large on sqlite (+postgresql if up)
    python tests/bench/run.py --preset huge --runs 3
    python tests/bench/run.py --preset huge --groups read       # only the read-only commands
    python tests/bench/run.py --preset 'large:rel_every=0'      # a custom shape

PostgreSQL: ``MIGTOOL_BENCH_PG_HOST/PORT/USER/PASSWORD`` (falling back to the
test suite's ``MIGTOOL_TEST_PG_*``, default ``postgres@127.0.0.1:5432``); the
benchmark creates and drops databases named ``migtool_bench_*``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_RUNS = {"small": 5, "large": 5, "huge": 3, "related": 3}
GROUPS = ("read", "rollback", "migrate")
PYTHON = sys.executable

# --------------------------------------------------------------------------- databases


class SQLite:
    name = "sqlite"

    def __init__(self, workdir: Path, preset: str) -> None:
        self.dir = workdir / "db-sqlite" / preset
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, db: str) -> Path:
        return self.dir / f"{db}.sqlite3"

    def url(self, db: str) -> str:
        return f"sqlite:///{self.path(db)}"

    def drop(self, db: str) -> None:
        base = self.path(db)
        for suffix in ("", "-journal", "-wal", "-shm", ".migtool-lock"):
            Path(f"{base}{suffix}").unlink(missing_ok=True)

    def empty(self, db: str) -> None:
        """A database with nothing in it: for SQLite no file, as for a new deployment."""
        self.drop(db)

    def copy(self, src: str, dst: str) -> None:
        self.drop(dst)
        shutil.copyfile(self.path(src), self.path(dst))

    def rows(self, db: str) -> set[tuple[str, str]]:
        with sqlite3.connect(f"file:{self.path(db)}?mode=ro", uri=True) as conn:
            return set(conn.execute("SELECT app, name FROM django_migrations").fetchall())

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (file on {_filesystem(self.dir)})"

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def pg_params() -> dict[str, Any]:
    env = os.environ

    def get(name: str, default: str) -> str:
        return env.get(f"MIGTOOL_BENCH_PG_{name}", env.get(f"MIGTOOL_TEST_PG_{name}", default))

    return {
        "host": get("HOST", "127.0.0.1"),
        "port": int(get("PORT", "5432")),
        "user": get("USER", "postgres"),
        "password": get("PASSWORD", ""),
    }


def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        import psycopg
    except ImportError:
        return "psycopg not installed (pip install 'migtool[postgres]')"
    params = pg_params()
    try:
        psycopg.connect(dbname="postgres", connect_timeout=3, **params).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"cannot connect to {params['host']}:{params['port']} ({str(exc).strip().splitlines()[0]})"
    return None


class Postgres:
    name = "postgresql"

    def __init__(self, workdir: Path, preset: str) -> None:
        self.params = pg_params()
        self.prefix = f"migtool_bench_{preset.replace('-', '_')}_"[:40]
        self.created: set[str] = set()

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(dbname="postgres", autocommit=True, **self.params) as conn:
            conn.execute(sql)

    def url(self, db: str) -> str:
        p = self.params
        auth = quote(p["user"], safe="") + (":" + quote(p["password"], safe="") if p["password"] else "")
        return f"postgres://{auth}@{p['host']}:{p['port']}/{self.prefix}{db}"

    def drop(self, db: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.prefix}{db}" WITH (FORCE)')
        self.created.discard(db)

    def empty(self, db: str) -> None:
        self.drop(db)
        self._admin(f'CREATE DATABASE "{self.prefix}{db}"')
        self.created.add(db)

    def copy(self, src: str, dst: str) -> None:
        self.drop(dst)
        self._admin(f'CREATE DATABASE "{self.prefix}{dst}" TEMPLATE "{self.prefix}{src}"')
        self.created.add(dst)

    def rows(self, db: str) -> set[tuple[str, str]]:
        import psycopg

        with psycopg.connect(dbname=self.prefix + db, **self.params) as conn:
            return {tuple(r) for r in conn.execute("SELECT app, name FROM django_migrations").fetchall()}

    def version(self) -> str:
        import psycopg

        with psycopg.connect(dbname="postgres", **self.params) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'} on {self.params['host']}:{self.params['port']}"

    def cleanup(self) -> None:
        for db in list(self.created):
            self.drop(db)


Backend = SQLite | Postgres


def _filesystem(path: Path) -> str:
    try:
        out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True, check=True).stdout
        return out.splitlines()[1].split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "?"


# --------------------------------------------------------------------------- running commands


class BenchError(RuntimeError):
    pass


@dataclass
class Command:
    """One timed thing: one or several processes run back to back.

    ``prepare`` runs before each sample, untimed (fresh database copies).
    ``check`` looks at the finished processes' output (untimed).
    """

    label: str
    argvs: list[list[str]]
    db: str | None = None
    expect: int = 0
    prepare: Callable[[], None] | None = None
    check: Callable[[list[subprocess.CompletedProcess[str]]], None] | None = None
    env: dict[str, str] | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    instructions: int | None = None  # one run under callgrind (--instructions)

    def summary(self) -> dict[str, Any]:
        return {
            "median": statistics.median(self.wall),
            "min": min(self.wall),
            "max": max(self.wall),
            "cpu_median": statistics.median(self.cpu),
            "instructions": self.instructions,
            "processes": len(self.argvs),
            "samples": [round(w, 4) for w in self.wall],
            "cpu_samples": [round(c, 4) for c in self.cpu],
            "argv": [" ".join(a) for a in self.argvs],
        }


class Runner:
    def __init__(self, project: Path, backend: Backend) -> None:
        self.project = project
        self.backend = backend

    def env(self, db: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = gen.child_env(self.backend.url(db) if db else None)
        env.update(extra or {})
        return env

    def run(self, command: Command, *, timed: bool = True) -> list[subprocess.CompletedProcess[str]]:
        if command.prepare:
            command.prepare()
        env = command.env if command.env is not None else self.env(command.db)
        results = []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        for argv in command.argvs:
            result = subprocess.run(argv, cwd=self.project, env=env, capture_output=True, text=True, check=False)
            results.append(result)
            if result.returncode != command.expect:
                raise BenchError(
                    f"{command.label}: `{' '.join(argv)}` exited {result.returncode}, expected {command.expect}\n"
                    f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
                )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if command.check:
            command.check(results)
        if timed:
            command.wall.append(wall)
            command.cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        return results

    def count_instructions(self, commands: Sequence[Command]) -> None:
        """Run each (single-process) command once under callgrind, all at the same time:
        instruction counts do not depend on what else the machine is doing, so they
        cross-check ratios that wall times on a noisy machine leave in doubt."""
        running = []
        for command in commands:
            if command.prepare:
                command.prepare()
            (argv,) = command.argvs
            env = command.env if command.env is not None else self.env(command.db)
            callgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
            running.append(
                (
                    command,
                    subprocess.Popen(
                        callgrind,
                        cwd=self.project,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    ),
                )
            )
        for command, process in running:
            _, err = process.communicate()
            found = re.search(r"Collected : (\d+)", err)
            if process.returncode != command.expect or not found:
                raise BenchError(f"{command.label} under callgrind exited {process.returncode}:\n{err[-2000:]}")
            command.instructions = int(found.group(1))

    def rounds(self, commands: Sequence[Command], runs: int, *, warmup: bool, progress: str) -> None:
        """Run every command once per round, alternating the order to cancel drift."""
        if warmup:
            for command in commands:
                self.run(command, timed=False)
        for i in range(runs):
            order = list(commands) if i % 2 == 0 else list(reversed(commands))
            for command in order:
                self.run(command)
            print(f"  {progress}: round {i + 1}/{runs} done", file=sys.stderr, flush=True)


def migtool(*args: str) -> list[str]:
    return [PYTHON, "-m", "migtool", *args]


def manage(*args: str) -> list[str]:
    return [PYTHON, "manage.py", *args]


# --------------------------------------------------------------------------- one preset on one backend


@dataclass
class Ratio:
    name: str
    numerator: str
    denominator: str
    target: str | None = None  # "<0.25", "<=1.2", ">=2"
    note: str = ""

    def evaluate(self, commands: dict[str, Command]) -> dict[str, Any]:
        num, den = commands[self.numerator], commands[self.denominator]
        value = statistics.median(num.wall) / statistics.median(den.wall)
        instructions = num.instructions / den.instructions if num.instructions and den.instructions else None
        cpu = statistics.median(num.cpu) / statistics.median(den.cpu) if statistics.median(den.cpu) else None
        passed = _meets(self.target, value)
        return {
            "name": self.name,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": value,
            "cpu_value": cpu,
            "instructions_value": instructions,
            "instructions_pass": _meets(self.target, instructions) if instructions else None,
            "target": self.target,
            "pass": passed,
            "note": self.note,
        }


def _meets(target: str | None, value: float) -> bool | None:
    """Whether ``value`` meets a target such as ``<0.25``, ``<=1.2`` or ``>=2``; None without a target."""
    if not target:
        return None
    op = target[:2] if target[1] == "=" else target[0]
    bound = float(target[len(op) :])
    return {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound}[op]


def bench(preset: str, shape: gen.Shape, info: dict[str, Any], project: Path, backend: Backend, args: Any) -> dict:
    runs = args.runs.get(preset, args.runs.get("*")) or DEFAULT_RUNS.get(preset.split("-")[0], 3)
    runner = Runner(project, backend)
    k = info["k"]
    targets = [tuple(t) for t in info["rollback_targets"]]
    checks: dict[str, Any] = {}
    setup: dict[str, float] = {}
    commands: dict[str, Command] = {}
    groups = set(args.groups)
    say = f"== {preset} on {backend.name}: {info['migrations']} migrations, K={k}, {runs} runs"
    print(say, file=sys.stderr, flush=True)

    def timed_setup(name: str, command: Command) -> list[subprocess.CompletedProcess[str]]:
        start = time.perf_counter()
        results = runner.run(command, timed=False)
        setup[name] = time.perf_counter() - start
        print(f"  setup {name}: {setup[name]:.1f} s", file=sys.stderr, flush=True)
        return results

    def step_lines(results: list[subprocess.CompletedProcess[str]]) -> list[str]:
        return [
            line.split(" done ", 1)[1].strip()
            for r in results
            for line in r.stderr.splitlines()
            if line.startswith("[") and " done " in line
        ]

    def check_once_each(results: list[subprocess.CompletedProcess[str]]) -> None:
        done = step_lines(results)
        if len(done) != k or len(set(done)) != k:
            raise BenchError(f"rollback --yes reported {len(done)} steps ({len(set(done))} distinct), expected {k}")

    # -- setup: the fully migrated database (also the warm-up of `manage.py migrate`), then r1
    backend.empty("full")
    timed_setup("manage.py migrate (full, warm-up)", Command("setup", [manage("migrate")], db="full"))
    full_rows = backend.rows("full")
    backend.copy("full", "r1")
    timed_setup(
        "migtool rollback r1 --yes (warm-up)",
        Command("setup", [migtool("rollback", "r1", "--yes")], db="r1", check=check_once_each),
    )
    r1_rows = backend.rows("r1")
    unapplied = full_rows - r1_rows
    backend.copy("full", "fp")
    payload = runner.run(
        Command("setup", [migtool("rollback", "r1", "--yes", "--format", "json")], db="fp"), timed=False
    )
    checks["rollback_fast_path"] = json.loads(payload[0].stdout)["fast_path"]  # which path the rollbacks measure
    print(f"  rollback fast path: {checks['rollback_fast_path']}", file=sys.stderr, flush=True)
    last = Command("history", [migtool("history", "--format", "json", "--limit", "1")], db="r1")
    history = runner.run(last, timed=False)
    run_id = json.loads(history[0].stdout)["runs"][0]["id"]
    journal = json.loads(
        runner.run(Command("history", [migtool("history", str(run_id), "--format", "json")], db="r1"), timed=False)[
            0
        ].stdout
    )["run"]
    steps = journal["steps"]
    checks["rollback_unapplied_rows"] = len(unapplied)
    checks["rollback_journal_steps"] = len(steps)
    checks["rollback_journal_distinct"] = len({s["migration"] for s in steps})
    checks["rollback_executes_each_once"] = (
        len(steps) == k == len(unapplied) == len({s["migration"] for s in steps}) and journal["status"] == "succeeded"
    )
    if not checks["rollback_executes_each_once"]:
        raise BenchError(f"rollback --yes: journal has {len(steps)} steps, {len(unapplied)} rows went, K={k}")
    if "rollback" in groups:
        backend.copy("full", "seq")
        timed_setup(
            "per-app manage.py migrate sequence (warm-up)",
            Command("setup", [manage("migrate", app, target) for app, target in targets], db="seq"),
        )
        checks["per_app_sequence_reaches_same_state"] = backend.rows("seq") == r1_rows
        if not checks["per_app_sequence_reaches_same_state"]:
            raise BenchError("the per-app migrate sequence did not reach the state migtool rollback reached")
    backend.empty("empty")
    if isinstance(backend, SQLite):
        sqlite3.connect(backend.path("empty")).close()  # an existing, empty file for the read-only commands

    # -- read: no-DB and read-only commands
    if "read" in groups:
        scratch = Path(tempfile.mkdtemp(prefix="migtool-bench-freeze-"))
        releases = str(project / "releases")
        bare_env = {k: v for k, v in gen.child_env().items() if k != "DJANGO_SETTINGS_MODULE"}
        read = [
            Command("python -c pass", [[PYTHON, "-c", "pass"]], env=bare_env),
            Command("migtool --version", [migtool("--version")], env=bare_env),
            Command("migtool diff r1 r2", [migtool("diff", "r1", "r2")]),
            Command(
                "migtool diff r1 r2 (--releases-dir, no settings)",
                [migtool("diff", "r1", "r2", "--releases-dir", releases)],
                env=bare_env,
            ),
            Command(
                "migtool freeze",
                [migtool("freeze", "--release", "bench", "--releases-dir", str(scratch))],
                prepare=lambda: (scratch / "bench.json").unlink(missing_ok=True),
            ),
            Command("migtool status", [migtool("status")], db="full"),
            Command("migtool rollback r1 --dry-run", [migtool("rollback", "r1", "--dry-run")], db="full"),
            Command("manage.py showmigrations", [manage("showmigrations")], db="full"),
            Command("manage.py migrate --plan (r1 db: K to apply)", [manage("migrate", "--plan")], db="r1"),
            Command("manage.py migrate --plan (full db: nothing)", [manage("migrate", "--plan")], db="full"),
            Command("manage.py migrate --plan (empty db: all)", [manage("migrate", "--plan")], db="empty"),
            Command(
                "per-app manage.py migrate APP TARGET --plan",
                [manage("migrate", app, target, "--plan") for app, target in targets],
                db="full",
            ),
        ]
        runner.rounds(read, runs, warmup=True, progress="read")
        if args.instructions:
            counted = (
                "migtool rollback r1 --dry-run",
                "manage.py migrate --plan (r1 db: K to apply)",
                "migtool diff r1 r2",
                "manage.py showmigrations",
            )
            runner.count_instructions([c for c in read if c.label in counted])
        commands.update({c.label: c for c in read})
        checks["diff_sets_up_django"] = diff_sets_up_django(runner, project, releases)
        shutil.rmtree(scratch, ignore_errors=True)

    # -- rollback --yes against the per-app migrate sequence, each on a fresh copy of the full database
    if "rollback" in groups:
        rollback = [
            Command(
                "migtool rollback r1 --yes",
                [migtool("rollback", "r1", "--yes")],
                db="rb",
                prepare=lambda: backend.copy("full", "rb"),
                check=check_once_each,
            ),
            Command(
                "migtool rollback r1 --yes --no-fast-path",
                [migtool("rollback", "r1", "--yes", "--no-fast-path")],
                db="rbs",
                prepare=lambda: backend.copy("full", "rbs"),
                check=check_once_each,
            ),
            Command(
                "per-app manage.py migrate APP TARGET",
                [manage("migrate", app, target) for app, target in targets],
                db="seq",
                prepare=lambda: backend.copy("full", "seq"),
            ),
        ]
        runner.rounds(rollback, runs, warmup=False, progress="rollback")
        commands.update({c.label: c for c in rollback})
        checks["rollback_end_state_ok"] = backend.rows("rb") == r1_rows == backend.rows("seq") == backend.rows("rbs")

    # -- migrate-safe against migrate, from an empty database
    if "migrate" in groups:
        migrate = [
            Command("migtool migrate-safe", [migtool("migrate-safe")], db="ms", prepare=lambda: backend.empty("ms")),
            Command("manage.py migrate", [manage("migrate")], db="mg", prepare=lambda: backend.empty("mg")),
        ]
        runner.rounds(migrate, runs, warmup=False, progress="migrate")
        commands.update({c.label: c for c in migrate})
        checks["migrate_safe_end_state_ok"] = backend.rows("ms") == backend.rows("mg") == full_rows

    ratios = [
        Ratio("diff / showmigrations", "migtool diff r1 r2", "manage.py showmigrations", "<0.25", "target on huge"),
        Ratio(
            "diff (--releases-dir) / showmigrations",
            "migtool diff r1 r2 (--releases-dir, no settings)",
            "manage.py showmigrations",
        ),
        Ratio("diff / python -c pass", "migtool diff r1 r2", "python -c pass"),
        Ratio("migtool --version / python -c pass", "migtool --version", "python -c pass"),
        Ratio("freeze / showmigrations", "migtool freeze", "manage.py showmigrations"),
        Ratio("status / showmigrations", "migtool status", "manage.py showmigrations"),
        Ratio(
            "rollback --dry-run / migrate --plan",
            "migtool rollback r1 --dry-run",
            "manage.py migrate --plan (r1 db: K to apply)",
            "<=1.2",
            "same K migrations, planned forwards by Django",
        ),
        Ratio(
            "rollback --dry-run / migrate --plan (nothing)",
            "migtool rollback r1 --dry-run",
            "manage.py migrate --plan (full db: nothing)",
        ),
        Ratio(
            "rollback --dry-run / migrate --plan (all)",
            "migtool rollback r1 --dry-run",
            "manage.py migrate --plan (empty db: all)",
        ),
        Ratio(
            "rollback --dry-run / per-app migrate --plan",
            "migtool rollback r1 --dry-run",
            "per-app manage.py migrate APP TARGET --plan",
        ),
        Ratio(
            "per-app migrate / rollback --yes (speed-up)",
            "per-app manage.py migrate APP TARGET",
            "migtool rollback r1 --yes",
            ">=2",
            f"{len(targets)} processes vs 1",
        ),
        Ratio(
            "rollback --no-fast-path / rollback --yes (fast path speed-up)",
            "migtool rollback r1 --yes --no-fast-path",
            "migtool rollback r1 --yes",
            None,
            "same plan, Django's rendering against the fast path's",
        ),
        Ratio("migrate-safe / migrate", "migtool migrate-safe", "manage.py migrate", "<=1.1", "from an empty database"),
    ]
    evaluated = [r.evaluate(commands) for r in ratios if r.numerator in commands and r.denominator in commands]
    return {
        "preset": preset,
        "shape": shape.__dict__,
        "project": info,
        "backend": backend.name,
        "backend_version": backend.version(),
        "runs": runs,
        "setup_seconds": setup,
        "commands": {label: c.summary() for label, c in commands.items()},
        "ratios": evaluated,
        "checks": checks,
    }


PROBE = """
import json, os, runpy, sys
sys.argv = ["migtool", *sys.argv[1:]]
try:
    runpy.run_module("migtool", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
apps = sys.modules.get("django.apps")
with open(os.environ["BENCH_PROBE_OUT"], "w") as handle:
    json.dump({
        "django_imported": "django" in sys.modules,
        "settings_imported": "benchproj.settings" in sys.modules,
        "apps_ready": bool(apps and apps.apps.ready),
        "migrations_imported": sum(1 for m in sys.modules if ".migrations." in m and m.startswith("a0")),
    }, handle)
"""


def diff_sets_up_django(runner: Runner, project: Path, releases: str) -> dict[str, Any]:
    """Run ``migtool diff r1 r2`` in-process and report what it imported (issue: no Django setup)."""
    out = {}
    for variant, extra, env in (
        ("with DJANGO_SETTINGS_MODULE", [], gen.child_env()),
        ("--releases-dir, no settings", ["--releases-dir", releases], None),
    ):
        if env is None:
            env = {k: v for k, v in gen.child_env().items() if k != "DJANGO_SETTINGS_MODULE"}
        with tempfile.NamedTemporaryFile(suffix=".json") as handle:
            env = {**env, "BENCH_PROBE_OUT": handle.name}
            subprocess.run(
                [PYTHON, "-c", PROBE, "diff", "r1", "r2", *extra], cwd=project, env=env, capture_output=True, check=True
            )
            out[variant] = json.loads(Path(handle.name).read_text())
    return out


# --------------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    source = hashlib.sha256()
    for path in sorted((HERE.parent.parent / "migtool").rglob("*.py")):
        source.update(path.read_bytes())
    return {
        "migtool_tree": git or "?",
        "migtool_source_sha256": source.hexdigest()[:12],
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        **gen.versions(PYTHON),
        "load_average_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, Django {m['django']}, "
        f"migtool {m['migtool']} ({m['migtool_tree']}, source {m['migtool_source_sha256']})",
        f"load average at start {m['load_average_start'][0]:.1f}, at end {m.get('load_average_end', [0])[0]:.1f}"
        " (wall times include interpreter start; ratios compare medians of interleaved runs)",
    ]
    for result in report["results"]:
        p = result["project"]
        lines += [
            "",
            f"== {result['preset']} on {result['backend_version']}: {p['migrations']} migrations in {p['apps']} apps "
            f"({p['merges']} merges, {p['squashes']} squashes replacing {p['replaced']}, {p['cross_app_edges']} "
            f"cross-app edges, {p['models']} models); rollback K={p['k']} over {p['changed_apps']} apps; "
            f"{result['runs']} runs",
            f"{'command':<52} {'median':>8} {'min':>8} {'max':>8} {'cpu med':>8}",
        ]
        for label, c in result["commands"].items():
            counted = f"  ({c['instructions'] / 1e9:.3f} billion instructions)" if c.get("instructions") else ""
            lines.append(
                f"{label:<52} {c['median']:8.3f} {c['min']:8.3f} {c['max']:8.3f} {c['cpu_median']:8.3f}{counted}"
            )
        lines.append(f"{'ratio (of wall medians)':<52} {'value':>8} {'cpu':>8} {'target':>8} {'result':>8}")
        for r in result["ratios"]:
            verdict = "" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL")
            cpu = f"{r['cpu_value']:8.2f}" if r["cpu_value"] is not None else f"{'-':>8}"
            note = f"  ({r['note']})" if r["note"] else ""
            lines.append(f"{r['name']:<52} {r['value']:8.2f} {cpu} {r['target'] or '':>8} {verdict:>8}{note}")
            if r.get("instructions_value"):
                verdict = "" if r["instructions_pass"] is None else ("PASS" if r["instructions_pass"] else "FAIL")
                label = "  same, in instructions (callgrind)"
                lines.append(f"{label:<52} {r['instructions_value']:8.2f} {'-':>8} {r['target'] or '':>8} {verdict:>8}")
        checks = result["checks"]
        lines.append("checks: " + "; ".join(f"{k}={v}" for k, v in checks.items() if k != "diff_sets_up_django"))
        for variant, probe in checks.get("diff_sets_up_django", {}).items():
            lines.append(
                f"diff r1 r2 ({variant}): django imported={probe['django_imported']}, settings imported="
                f"{probe['settings_imported']}, apps ready={probe['apps_ready']}, "
                f"migration modules imported={probe['migrations_imported']}"
            )
        setup = ", ".join(f"{k} {v:.1f} s" for k, v in result["setup_seconds"].items())
        lines.append(f"setup (untimed): {setup}")
    for skipped in report["skipped"]:
        lines.append(f"\nSKIPPED: {skipped}")
    return "\n".join(lines)


def split_presets(text: str) -> list[str]:
    """``small,large:apps=20,per_app=100,huge`` -> ``small``, ``large:apps=20,per_app=100``, ``huge``."""
    specs: list[str] = []
    for part in (p for p in text.split(",") if p):
        if "=" in part and ":" not in part and specs:
            specs[-1] += "," + part
        else:
            specs.append(part)
    return specs


def main() -> int:
    parser = argparse.ArgumentParser(description="migtool benchmark (issue #6)", epilog=__doc__.split("\n\n")[2])
    parser.add_argument(
        "--preset",
        default="small,large",
        help="comma list of presets (small, large, huge, related), "
        "each optionally with overrides: 'large:apps=20,per_app=100' [small,large]",
    )
    parser.add_argument(
        "--runs", default="", help="rounds per command: N, or per preset 'small=5,large=3' [5; 3 for huge]"
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma list [sqlite,postgresql]; postgresql is skipped (and said so) when not reachable",
    )
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"comma list of {', '.join(GROUPS)} [all]")
    parser.add_argument("--json", type=Path, default=HERE / "out" / "latest.json", help="[tests/bench/out/latest.json]")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "migtool-bench",
        help="generated projects and SQLite files [$TMPDIR/migtool-bench]",
    )
    parser.add_argument("--keep-dbs", action="store_true", help="keep the benchmark databases afterwards")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count, once under valgrind's callgrind, the instructions of the commands the read targets compare",
    )
    args = parser.parse_args()
    args.groups = [g for g in args.groups.split(",") if g]
    runs = {}
    for item in [r for r in args.runs.split(",") if r]:
        name, _, value = item.rpartition("=")
        runs[name or "*"] = int(value)
    args.runs = runs
    if unknown := set(args.groups) - set(GROUPS):
        parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
    backends = [b for b in args.backends.split(",") if b]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")

    report: dict[str, Any] = {"machine": machine(), "results": [], "skipped": []}
    pg_reason = pg_unavailable() if "postgresql" in backends else None
    if pg_reason:
        report["skipped"].append(f"postgresql: {pg_reason}")
        backends.remove("postgresql")
    workdir = args.workdir.resolve()
    failed = False

    def save() -> str:
        """Write the JSON after every preset and backend, so an interrupted run keeps what it measured."""
        text = table(report)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**report, "table": text}, indent=2, default=str) + "\n")
        return text

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: drop databases, save
    for spec in split_presets(args.preset):
        preset, shape = gen.parse_preset(spec)
        project = workdir / "projects" / preset
        start = time.perf_counter()
        info = gen.generate(shape, project, PYTHON)
        print(f"== {preset}: project ready in {time.perf_counter() - start:.1f} s ({project})", file=sys.stderr)
        for name in backends:
            backend: Backend = SQLite(workdir, preset) if name == "sqlite" else Postgres(workdir, preset)
            try:
                report["results"].append(bench(preset, shape, info, project, backend, args))
            except BenchError as exc:
                failed = True
                report["skipped"].append(f"{preset} on {name}: benchmark error: {exc}")
                print(f"ERROR: {exc}", file=sys.stderr)
            finally:
                if not args.keep_dbs:
                    backend.cleanup()
                report["machine"]["load_average_end"] = os.getloadavg()
                save()
    report["machine"]["load_average_end"] = os.getloadavg()
    end = machine()
    if end["migtool_source_sha256"] != report["machine"]["migtool_source_sha256"]:
        report["skipped"].append(
            f"WARNING: migtool's source changed during the run ({report['machine']['migtool_source_sha256']} -> "
            f"{end['migtool_source_sha256']}, tree {end['migtool_tree']}): the results mix two versions"
        )
    text = save()
    print(text)
    print(f"\nJSON: {args.json}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
