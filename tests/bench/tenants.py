"""Schema-per-tenant benchmark (issue #12): migtool against django-tenants' ``migrate_schemas``.

A django-tenants project (the real package) on PostgreSQL: shared apps
``django_tenants``, ``customers`` (the tenant model), ``contenttypes`` and
``auth``; tenant apps ``contenttypes``, ``auth`` and the generated apps of
tests/bench/generate.py (5 apps, 30 models, 303 migrations, the last 5 of one
app left out of the fleet's code: the "new migrations").  ``public`` is
migrated with ``migrate_schemas --shared``, one tenant is created as
django-tenants does (``Client.save()``), and the other tenants are copies of its
schema (``pg_dump -n``, renamed, one ``psql`` session: django-tenants' own
``clone_schema`` SQL function took 30 s a schema here) with their ``Client``
rows.  The fleet is kept as a template database and every timed run starts
from a fresh copy of it.

For each size in ``--schemas`` (e.g. ``50,200``) it times, on the same fleet:

``noop``  nothing pending: ``manage.py migrate_schemas`` with the ``standard`` and
          ``multiprocessing`` executors (``--jobs`` processes) against migtool;
``new``   the 5 new migrations in every schema, same three commands;

with the wall time and the peak RSS of the largest process.  ``--noop-only``
sizes (e.g. ``1000``) run only the first.  What migtool runs is
``migtool migrate-safe --tenants --jobs N`` when this migtool has it (the fleet
engine), else ``tenant_loop.py``: migtool's schema-target path looped in one
process (set up once, one up-to-date query, one migrate-safe per stale schema).

After every run each schema's ``django_migrations`` is compared with the rows a
fully migrated schema has; a tool that left a schema behind fails the benchmark.

    python tests/bench/tenants.py --schemas 10 --jobs 2          # a quick look
    python tests/bench/tenants.py --schemas 50,200 --noop-only 1000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # noqa: E402
from run import Postgres, pg_unavailable  # noqa: E402

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent.parent  # the migtool timed is this checkout's, whatever the venv has installed
PYTHON = sys.executable
SHAPE = gen.Shape(apps=5, per_app=60, changed_apps=1, tail=5, extra_releases=0)

SETTINGS = (
    gen.SETTINGS.replace('"django.db.backends.postgresql"', '"django_tenants.postgresql_backend"')
    + """
SHARED_APPS = ["django_tenants", "customers", "django.contrib.contenttypes", "django.contrib.auth"]
TENANT_APPS = ["django.contrib.contenttypes", "django.contrib.auth"] + {apps!r}
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(os.environ.get("BENCH_JOBS", "2"))
"""
)

TENANT_MODELS = """from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)


class Domain(DomainMixin):
    pass
"""

FIRST = "t0001"
FIRST_TENANT = """
import django
django.setup()
from customers.models import Client
Client(schema_name="t0001", name="t0001").save(verbosity=0)
"""
# Rows only: the schemas exist already (bulk_create does not call save()).
MORE_TENANTS = """
import django
django.setup()
from customers.models import Client
Client.objects.bulk_create(Client(schema_name=n, name=n) for n in {names!r})
"""


def tenant_names(count: int) -> list[str]:
    return [f"t{i:04d}" for i in range(1, count + 1)]


def copy_first_schema(db: Postgres, database: str, names: list[str]) -> None:
    """Create ``names`` as copies of the first tenant's schema, tables, rows and all."""
    p = db.params
    conn = ["-h", p["host"], "-p", str(p["port"]), "-U", p["user"], "-d", db.prefix + database]
    env = {**os.environ, "PGPASSWORD": p["password"]}
    dump = subprocess.run(
        ["pg_dump", *conn, "-n", FIRST, "--no-owner", "--no-privileges"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first = re.compile(rf"\b{FIRST}\b")
    script = "\n".join(first.sub(name, dump) for name in names)
    subprocess.run(
        ["psql", *conn, "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=script,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


# The peak RSS of the largest process of a command, and the CPU time of the command and
# its children (the database server's is not counted, for any tool).
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                  "rss_mb": usage.ru_maxrss / 1024, "stderr": proc.stderr[-3000:]}))
"""


def write_project(root: Path, *, tails: bool) -> list[str]:
    apps = gen.build(SHAPE)
    gen.write_project(apps, root, tails=tails)
    labels = [a.label for a in apps]
    (root / gen.SETTINGS_PACKAGE / "settings.py").write_text(SETTINGS.format(apps=labels))
    (root / "customers" / "migrations").mkdir(parents=True, exist_ok=True)
    (root / "customers" / "__init__.py").write_text("")
    (root / "customers" / "models.py").write_text(TENANT_MODELS)
    (root / "customers" / "migrations" / "__init__.py").touch()
    return labels


def run(root: Path, url: str, args: list[str], jobs: int = 2) -> subprocess.CompletedProcess[str]:
    env = {**gen.child_env(url), "BENCH_JOBS": str(jobs), "PYTHONPATH": os.pathsep.join((str(root), str(CHECKOUT)))}
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, check=False)


def checked(result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(result.args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def has_fleet_engine(root: Path, url: str) -> bool:
    out = run(root, url, [PYTHON, "-m", "migtool", "migrate-safe", "--help"])
    return "--tenants" in out.stdout and "--jobs" in out.stdout


def commands(engine: bool, jobs: int) -> dict[str, list[str]]:
    migtool = (
        [PYTHON, "-m", "migtool", "migrate-safe", "--tenants", "--jobs", str(jobs)]
        if engine
        else [PYTHON, str(HERE / "tenant_loop.py")]
    )
    return {
        "standard": [PYTHON, "manage.py", "migrate_schemas", "--executor", "standard"],
        "multiprocessing": [PYTHON, "manage.py", "migrate_schemas", "--executor", "multiprocessing"],
        "migtool": migtool,
    }


def schema_row_counts(db: Postgres, name: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dbname=db.prefix + name, **db.params) as conn:
        schemas = [
            r[0]
            for r in conn.execute(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'django_migrations'"
            ).fetchall()
        ]
        sql = " UNION ALL ".join(f"SELECT '{s}', count(*) FROM \"{s}\".django_migrations" for s in schemas)
        return {s: int(n) for s, n in conn.execute(sql).fetchall()}


def bench_size(root: Path, db: Postgres, count: int, jobs: int, runs: int, noop_only: bool) -> dict[str, Any]:
    """Build a fleet of ``count`` tenants and time every command on copies of it."""
    fleet = f"fleet{count}"
    print(f"== {count} tenant schemas: building the fleet", file=sys.stderr, flush=True)
    write_project(root, tails=False)
    db.empty(fleet)
    url = db.url(fleet)
    start = time.perf_counter()
    checked(run(root, url, [PYTHON, "manage.py", "makemigrations", "customers", "-v0"]))
    checked(run(root, url, [PYTHON, "manage.py", "migrate_schemas", "--shared", "-v0"]))
    names = tenant_names(count)
    checked(run(root, url, [PYTHON, "-c", textwrap.dedent(FIRST_TENANT)]))
    copy_first_schema(db, fleet, names[1:])
    checked(run(root, url, [PYTHON, "-c", textwrap.dedent(MORE_TENANTS.format(names=names[1:]))]))
    built = time.perf_counter() - start
    engine = has_fleet_engine(root, url)
    result: dict[str, Any] = {"schemas": count + 1, "built_s": round(built, 1), "engine": engine, "scenarios": {}}
    for scenario in ("noop",) if noop_only else ("noop", "new"):
        write_project(root, tails=scenario == "new")
        samples: dict[str, list[dict[str, Any]]] = {}
        for round_ in range(runs):
            for tool, argv in commands(engine, jobs).items():
                db.copy(fleet, "work")
                work = db.url("work")
                before = schema_row_counts(db, "work")
                print(f"   {scenario} round {round_ + 1}/{runs}: {tool}", file=sys.stderr, flush=True)
                out = json.loads(checked(run(root, work, [PYTHON, "-c", MEASURE, *argv], jobs)))
                if out["rc"] != 0:
                    raise SystemExit(f"{tool} failed ({out['rc']}):\n{out['stderr']}")
                after = schema_row_counts(db, "work")
                grew = {s: after[s] - before.get(s, 0) for s in after}
                want = SHAPE.k if scenario == "new" else 0
                wrong = {s: n for s, n in grew.items() if n != want}
                if wrong:
                    raise SystemExit(
                        f"{tool} left schemas with other than {want} new rows: {dict(list(wrong.items())[:5])}"
                    )
                samples.setdefault(tool, []).append({"wall": out["wall"], "cpu": out["cpu"], "rss_mb": out["rss_mb"]})
        result["scenarios"][scenario] = summarize(samples)
    db.drop("work")
    db.drop(fleet)
    return result


def summarize(samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    import statistics

    summary = {
        tool: {
            "wall_s": round(statistics.median(s["wall"] for s in runs), 2),
            "cpu_s": round(statistics.median(s["cpu"] for s in runs), 2),
            "rss_mb": round(max(s["rss_mb"] for s in runs), 1),
            "samples": [round(s["wall"], 2) for s in runs],
        }
        for tool, runs in samples.items()
    }
    mine = summary["migtool"]["wall_s"]
    for tool in ("standard", "multiprocessing"):
        summary[f"speedup_vs_{tool}"] = round(summary[tool]["wall_s"] / mine, 1) if mine else None
    return summary


TARGETS = {"noop": {"standard": 20.0, "multiprocessing": None}, "new": {"standard": 3.0, "multiprocessing": 1.0}}


def table(report: dict[str, Any]) -> str:
    lines = [
        "| schemas | scenario | standard | multiprocessing | migtool | vs standard | vs multiprocessing | peak RSS "
        "(std / mp / migtool) | CPU (std / mp / migtool) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size in report["sizes"]:
        for scenario, s in size["scenarios"].items():

            def verdict(tool: str, scenario: str = scenario, s: dict[str, Any] = s) -> str:
                target, value = TARGETS[scenario][tool], s[f"speedup_vs_{tool}"]
                mark = "" if target is None or value is None else (" PASS" if value >= target else " FAIL")
                return f"{value}×{mark}" + (f" (≥ {target:g}×)" if target else "")

            tools = ("standard", "multiprocessing", "migtool")
            rss = " / ".join(f"{s[t]['rss_mb']:.0f}" for t in tools)
            cpu = " / ".join(f"{s[t]['cpu_s']:.1f}" for t in tools)
            lines.append(
                f"| {size['schemas']} | {scenario} | {s['standard']['wall_s']} s | {s['multiprocessing']['wall_s']} s "
                f"| {s['migtool']['wall_s']} s | {verdict('standard')} | {verdict('multiprocessing')} | {rss} MB "
                f"| {cpu} s |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", default="10", help="comma list of tenant counts (public comes on top)")
    parser.add_argument("--noop-only", default="", help="comma list of tenant counts timed with nothing pending only")
    parser.add_argument("--jobs", type=int, default=2, help="processes for multiprocessing (and migtool's engine)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", type=Path, default=HERE / "out" / "tenants.json")
    args = parser.parse_args()
    problem = pg_unavailable()
    if problem:
        print(f"PostgreSQL unavailable: {problem}", file=sys.stderr)
        return 2
    sizes = [(int(n), False) for n in args.schemas.split(",") if n] + [
        (int(n), True) for n in args.noop_only.split(",") if n
    ]
    with tempfile.TemporaryDirectory(prefix="migtool-bench-tenants-") as tmp:
        db = Postgres(Path(tmp), "tenants")
        try:
            report = {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), **gen.versions(PYTHON)},
                "load_before": os.getloadavg()[0],
                "jobs": args.jobs,
                "sizes": [bench_size(Path(tmp) / "proj", db, n, args.jobs, args.runs, only) for n, only in sizes],
                "load_after": os.getloadavg()[0],
                "postgresql": db.version(),
            }
        finally:
            db.cleanup()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"(load average {report['load_before']:.1f} → {report['load_after']:.1f}; {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
