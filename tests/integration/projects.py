"""Throw-away Django projects on a fresh database, driven through subprocesses.

Why subprocesses: ``django.setup()`` is global per process, while each test
needs its own settings, apps and migration files, and migtool must be
exercised the way users run it (``python -m migtool`` with
``DJANGO_SETTINGS_MODULE``). So the test process never imports Django
settings; it writes a project to disk, runs ``migtool`` / ``django-admin``
as child processes and inspects the database with the plain DB-API driver.

Typical use (through the ``make_project`` fixture)::

    project = make_project({"shop": {"0001_initial": migration(ops=[...])}})
    assert project.manage("migrate").code == 0
    assert ("shop", "0001_initial") in project.db.applied()
"""

from __future__ import annotations

import os
import pprint
import secrets
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUBPROCESS_TIMEOUT = 120
DB_PREFIX = "migtool_t_"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopsite"


def server_params(backend: str) -> dict[str, Any]:
    """Connection parameters for a server backend, overridable by environment.

    Defaults match the development/CI machine: PostgreSQL with trust auth
    for ``postgres``, MariaDB ``root`` with an empty password, both on
    127.0.0.1 (TCP, not the socket, so the same settings work in Django).
    """
    if backend == "postgresql":
        prefix, port, user = "MIGTOOL_TEST_PG_", "5432", "postgres"
    elif backend == "mysql":
        prefix, port, user = "MIGTOOL_TEST_MYSQL_", "3306", "root"
    else:
        raise ValueError(f"no server parameters for backend {backend!r}")
    env = os.environ
    return {
        "host": env.get(prefix + "HOST", "127.0.0.1"),
        "port": int(env.get(prefix + "PORT", port)),
        "user": env.get(prefix + "USER", user),
        "password": env.get(prefix + "PASSWORD", ""),
    }


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Result:
    """Outcome of one child process; its repr is made for assertion messages.

    Write ``assert r.code == 0, r`` and a failure shows the command and both
    streams in full.
    """

    code: int
    stdout: str
    stderr: str
    args: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        cmd = " ".join(self.args)
        return (
            f"\n$ {cmd}\n[exit code {self.code}]\n--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}--- end ---"
        )

    __str__ = __repr__


# --------------------------------------------------------------------------- migration source


def migration(
    deps: Sequence[tuple[str, str]] = (),
    ops: Sequence[str] = (),
    *,
    replaces: Sequence[tuple[str, str]] | None = None,
    run_before: Sequence[tuple[str, str]] = (),
    atomic: bool | None = None,
    initial: bool | None = None,
    preamble: str = "",
) -> str:
    """Return the source of a migration module.

    ``ops`` are Python expressions, evaluated in a module that did
    ``from django.db import migrations, models``. ``preamble`` is module
    code placed before the class (e.g. functions for ``RunPython``).
    """
    lines = ["from django.db import migrations, models", ""]
    if preamble:
        lines += [textwrap.dedent(preamble).strip("\n"), ""]
    lines += ["", "class Migration(migrations.Migration):"]
    if initial is not None:
        lines.append(f"    initial = {initial!r}")
    if atomic is not None:
        lines.append(f"    atomic = {atomic!r}")
    if replaces is not None:
        lines.append(f"    replaces = {[tuple(r) for r in replaces]!r}")
    lines.append(f"    dependencies = {[tuple(d) for d in deps]!r}")
    if run_before:
        lines.append(f"    run_before = {[tuple(r) for r in run_before]!r}")
    lines.append("    operations = [")
    lines += [f"        {op}," for op in ops]
    lines.append("    ]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- databases


def _connect_server(backend: str, dbname: str | None) -> Any:
    """Open an autocommit DB-API connection to a server backend.

    Autocommit matters: an idle transaction in the test process would hold
    locks that block the DDL run by migtool in the child process.
    """
    params = server_params(backend)
    if backend == "postgresql":
        import psycopg

        return psycopg.connect(dbname=dbname or "postgres", autocommit=True, **params)
    import MySQLdb

    conn = MySQLdb.connect(
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"],
        database=dbname or "",
        charset="utf8mb4",
    )
    conn.autocommit(True)
    return conn


def database_exists(backend: str, name: str) -> bool:
    """Whether a server database called ``name`` exists (for cleanup tests)."""
    conn = _connect_server(backend, None)
    try:
        cur = conn.cursor()
        if backend == "postgresql":
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        else:
            cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,))
        return cur.fetchone() is not None
    finally:
        conn.close()


@dataclass
class Database:
    """A database created for one project, plus read/write helpers.

    Use ``%s`` placeholders in ``rows``/``execute`` on every backend; they
    are translated for sqlite3.
    """

    backend: str
    name: str  # server database name, or the SQLite file path

    @classmethod
    def create(cls, backend: str, directory: Path, filename: str = "db.sqlite3") -> Database:
        if backend == "sqlite":
            return cls(backend, str(directory / filename))
        name = DB_PREFIX + secrets.token_hex(6)
        conn = _connect_server(backend, None)
        try:
            if backend == "postgresql":
                conn.execute(f'CREATE DATABASE "{name}"')
            else:
                conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            conn.close()
        return cls(backend, name)

    def drop(self) -> None:
        """Remove the database; FORCE/lock timeout keep a stray child from hanging us."""
        if self.backend == "sqlite":
            Path(self.name).unlink(missing_ok=True)
            return
        conn = _connect_server(self.backend, None)
        try:
            if self.backend == "postgresql":
                force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"{force}')
            else:
                cur = conn.cursor()
                cur.execute("SET SESSION lock_wait_timeout = 30")
                cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        finally:
            conn.close()

    def django_settings(self) -> dict[str, Any]:
        """The ``DATABASES['default']`` entry for this database."""
        if self.backend == "sqlite":
            return {"ENGINE": "django.db.backends.sqlite3", "NAME": self.name}
        params = server_params(self.backend)
        entry: dict[str, Any] = {
            "ENGINE": f"django.db.backends.{self.backend}",
            "NAME": self.name,
            "HOST": params["host"],
            "PORT": str(params["port"]),
            "USER": params["user"],
            "PASSWORD": params["password"],
        }
        if self.backend == "mysql":
            entry["OPTIONS"] = {"charset": "utf8mb4"}
        return entry

    def connect(self) -> Any:
        """A new autocommit DB-API connection; the caller closes it."""
        if self.backend == "sqlite":
            return sqlite3.connect(self.name, isolation_level=None, timeout=30)
        return _connect_server(self.backend, self.name)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            self._run(cur, sql, params)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        conn = self.connect()
        try:
            self._run(conn.cursor(), sql, params)
        finally:
            conn.close()

    def _run(self, cur: Any, sql: str, params: Sequence[Any]) -> None:
        if not params:
            cur.execute(sql)  # no params: drivers leave '%' alone
        elif self.backend == "sqlite":
            cur.execute(sql.replace("%s", "?"), tuple(params))
        else:
            cur.execute(sql, tuple(params))

    def tables(self) -> set[str]:
        if self.backend == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        elif self.backend == "postgresql":
            sql = (
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        else:
            sql = (
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
            )
        return {r[0] for r in self.rows(sql)}

    def columns(self, table: str) -> set[str]:
        """Column names of ``table`` as the database reports them (empty if no table)."""
        if self.backend == "sqlite":
            return {r[1] for r in self.rows(f'PRAGMA table_info("{table}")')}
        schema = "current_schema()" if self.backend == "postgresql" else "DATABASE()"
        return {
            r[0]
            for r in self.rows(
                f"SELECT column_name FROM information_schema.columns WHERE table_schema = {schema} AND table_name = %s",
                (table,),
            )
        }

    def applied(self) -> set[tuple[str, str]]:
        """Rows of ``django_migrations``; empty if Django never created it."""
        if "django_migrations" not in self.tables():
            return set()
        return {(r[0], r[1]) for r in self.rows("SELECT app, name FROM django_migrations")}

    def migration_row_count(self, app: str, name: str) -> int:
        """How often (app, name) is recorded; >1 would mean a duplicate record."""
        if "django_migrations" not in self.tables():
            return 0
        sql = "SELECT COUNT(*) FROM django_migrations WHERE app = %s AND name = %s"
        return int(self.rows(sql, (app, name))[0][0])


# --------------------------------------------------------------------------- projects


@dataclass
class Project:
    """A Django project on disk (``root``) bound to its own fresh ``db``."""

    root: Path
    db: Database
    apps: dict[str, dict[str, str]]
    extra_settings: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # More DATABASES aliases beside 'default' (a fleet), each with a database of its own.
    aliases: dict[str, Database] = field(default_factory=dict)

    def write(self) -> None:
        """Write settings and every app package from scratch."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_settings()
        for label, migrations in self.apps.items():
            pkg = self.root / label
            (pkg / "migrations").mkdir(parents=True, exist_ok=True)
            (pkg / "__init__.py").write_text("")
            (pkg / "models.py").write_text("")
            (pkg / "migrations" / "__init__.py").write_text("")
            for name, source in migrations.items():
                self.write_migration(label, name, source)

    def write_settings(self) -> None:
        settings = (
            '"""Settings written by tests/integration/projects.py."""\n\n'
            'SECRET_KEY = "migtool-tests-not-secret"\n'
            f"INSTALLED_APPS = {list(self.apps)!r}\n"
            f"DATABASES = {pprint.pformat({'default': self.db.django_settings(), **self.alias_settings()})}\n"
            "USE_TZ = True\n"
            'DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"\n'
        )
        if self.extra_settings:
            settings += "\n" + textwrap.dedent(self.extra_settings).strip("\n") + "\n"
        (self.root / "settings.py").write_text(settings)
        self._clear_bytecode(self.root)

    def alias_settings(self) -> dict[str, Any]:
        return {alias: db.django_settings() for alias, db in self.aliases.items()}

    def database(self, alias: str) -> Database:
        """The database behind a ``DATABASES`` alias."""
        return self.db if alias == "default" else self.aliases[alias]

    def add_app(self, label: str, migrations: dict[str, str] | None = None) -> None:
        """Add an app (and put it in INSTALLED_APPS), e.g. between two releases."""
        self.apps[label] = dict(migrations or {})
        self.write()

    def migration_path(self, app: str, name: str) -> Path:
        return self.root / app / "migrations" / f"{name}.py"

    def write_migration(self, app: str, name: str, source: str) -> None:
        path = self.migration_path(app, name)
        path.write_text(source)
        self.apps.setdefault(app, {})[name] = source
        self._clear_bytecode(path.parent)

    def remove_migration(self, app: str, name: str) -> None:
        self.migration_path(app, name).unlink()
        self.apps.get(app, {}).pop(name, None)
        self._clear_bytecode(self.migration_path(app, name).parent)

    @staticmethod
    def _clear_bytecode(directory: Path) -> None:
        # .pyc validity is checked by mtime+size: a file rewritten within the
        # same second with the same size would otherwise load the old code.
        shutil.rmtree(directory / "__pycache__", ignore_errors=True)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("FORCE_COLOR", None)
        env.update(
            DJANGO_SETTINGS_MODULE="settings",
            # The project first; then the caller's PYTHONPATH, so children import the migtool the
            # test process imports (a worktree's, not the venv's editable install of another checkout).
            PYTHONPATH=os.pathsep.join([str(self.root), *filter(None, [os.environ.get("PYTHONPATH")])]),
            NO_COLOR="1",
            COLUMNS="200",
            PYTHONHASHSEED="0",
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(self.env)
        return env

    def run(self, args: Iterable[str], input: str | None = None) -> Result:
        """Run a child process in the project; a hang becomes a readable failure."""
        argv = [str(a) for a in args]
        try:
            proc = subprocess.run(
                argv,
                cwd=self.root,
                env=self.child_env(),
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=SUBPROCESS_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            partial = Result(-9, _text(exc.stdout), _text(exc.stderr), tuple(argv))
            raise AssertionError(f"timed out after {SUBPROCESS_TIMEOUT}s:{partial!r}") from None
        return Result(proc.returncode, proc.stdout, proc.stderr, tuple(argv))

    def migtool(self, *args: str, input: str | None = None) -> Result:
        """``python -m migtool ARGS`` as a user would run it in this project."""
        return self.run([sys.executable, "-m", "migtool", *args], input=input)

    def manage(self, *args: str, input: str | None = None) -> Result:
        """Django's ``manage.py ARGS`` (``python -m django``) in this project."""
        return self.run([sys.executable, "-m", "django", *args], input=input)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


class ProjectFactory:
    """Builds projects under ``base`` and drops their databases on ``close``."""

    def __init__(self, base: Path, default_backend: str) -> None:
        self.base = base
        self.default_backend = default_backend
        self.databases: list[Database] = []
        self.count = 0

    def __call__(
        self,
        apps: dict[str, dict[str, str]],
        backend: str | None = None,
        extra_settings: str = "",
    ) -> Project:
        self.count += 1
        root = self.base / ("proj" if self.count == 1 else f"proj{self.count}")
        root.mkdir(parents=True)
        db = Database.create(backend or self.default_backend, root)
        self.databases.append(db)
        project = Project(
            root=root,
            db=db,
            apps={label: dict(migs) for label, migs in apps.items()},
            extra_settings=extra_settings,
        )
        project.write()
        return project

    def add_aliases(self, project: Project, aliases: Sequence[str], backend: str | None = None) -> None:
        """Give ``project`` more ``DATABASES`` aliases, each on a fresh database (dropped at teardown)."""
        for alias in aliases:
            db = Database.create(backend or project.db.backend, project.root, f"{alias}.sqlite3")
            self.databases.append(db)
            project.aliases[alias] = db
        project.write_settings()

    def example(self, extra_settings: str = "") -> Project:
        """A copy of ``examples/shopsite`` (its migrations and release files) on a
        fresh database; ``settings`` imports the example's and appends ``extra_settings``."""
        self.count += 1
        root = self.base / f"shopsite{self.count}"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
        db = Database.create(self.default_backend, root)
        self.databases.append(db)
        (root / "settings.py").write_text(
            "from shopsite.settings import *  # noqa: F403\n\n"
            f"DATABASES = {{'default': {pprint.pformat(db.django_settings())}}}\n" + textwrap.dedent(extra_settings)
        )
        return Project(root=root, db=db, apps={})

    def close(self) -> None:
        errors: list[str] = []
        for db in reversed(self.databases):
            try:
                db.drop()
            except Exception as exc:  # keep dropping the others, then report
                errors.append(f"{db.backend} {db.name}: {exc}")
        self.databases.clear()
        if errors:
            raise RuntimeError("could not drop test database(s): " + "; ".join(errors))
