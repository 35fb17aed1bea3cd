"""Session-wide test setup: which database backends the integration tests use.

Environment variables:

``MIGTOOL_TEST_BACKENDS``
    Comma list from ``sqlite,postgresql,mysql`` (default: all three). Each
    selected backend is used if it is reachable, and skipped otherwise.
``MIGTOOL_REQUIRE_BACKENDS``
    Comma list, or ``all``. A required backend that is unreachable (server
    down or driver missing) ends the session at once with a non-zero exit
    code, so CI can never go green by silently skipping PostgreSQL or MariaDB.
    Required backends are always selected.  The list may also name the
    services ``redis`` and ``rabbitmq`` (the Celery executor's brokers), and
    ``all`` includes them.

The services are always probed (a TCP connect, or a Redis PING) and reported
beside the backends; a test that needs one is
skipped, with the reason, when it is down and not required (the
``require_service`` fixture).
``MIGTOOL_TEST_PG_HOST/PORT/USER/PASSWORD``, ``MIGTOOL_TEST_MYSQL_HOST/PORT/USER/PASSWORD``
    Server connection parameters (see ``server_params``).

Reachability is probed once per session with a 3 s connect timeout. The
verdict is printed in the header and again in the terminal summary, e.g.
``migtool backends: sqlite=used postgresql=SKIPPED (connection refused at
127.0.0.1:5432) mysql=used``.

Tests marked ``@pytest.mark.backends`` are parametrised over every usable
backend through the ``backend`` fixture (ids ``sqlite``, ``postgresql``,
``mysql``); unmarked tests that ask for ``backend`` get ``"sqlite"``.

This file never configures Django: integration tests run Django in
subprocesses (see ``tests/integration/projects.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from projects import server_params  # tests/integration is on pythonpath (pyproject)

ALL_BACKENDS: tuple[str, ...] = ("sqlite", "postgresql", "mysql")
SERVICES: dict[str, tuple[str, int]] = {"redis": ("127.0.0.1", 6379), "rabbitmq": ("127.0.0.1", 5672)}
CONNECT_TIMEOUT = 3


@dataclass(frozen=True)
class BackendStatus:
    """Whether one backend takes part in this session, and why not."""

    name: str
    selected: bool
    required: bool
    problem: str | None  # None when usable; otherwise a short reason

    @property
    def usable(self) -> bool:
        return self.selected and self.problem is None

    def describe(self) -> str:
        if not self.selected:
            return f"{self.name}=not selected"
        if self.problem is None:
            return f"{self.name}=used"
        return f"{self.name}=SKIPPED ({self.problem})"


def _short_reason(exc: BaseException, where: str) -> str:
    """Condense a driver's multi-line connect error into a summary phrase."""
    text = str(exc)
    if "refused" in text.lower() or "(111)" in text:
        return f"connection refused at {where}"
    if "timeout" in text.lower() or "timed out" in text.lower():
        return f"connection timed out at {where}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{first[:160]} at {where}"


def probe(backend: str) -> str | None:
    """Return None if ``backend`` can be used now, else why not.

    The driver import is checked first, so a missing mysqlclient reads as
    "driver missing", not as a connection problem.
    """
    if backend in SERVICES:
        return _probe_service(backend)
    if backend == "sqlite":
        try:
            import sqlite3  # noqa: F401
        except ImportError as exc:  # pragma: no cover - stripped-down Pythons only
            return f"driver missing: {exc}"
        return None
    params = server_params(backend)
    where = f"{params['host']}:{params['port']}"
    try:
        if backend == "postgresql":
            import psycopg

            psycopg.connect(dbname="postgres", connect_timeout=CONNECT_TIMEOUT, **params).close()
        else:
            import MySQLdb

            MySQLdb.connect(
                host=params["host"],
                port=params["port"],
                user=params["user"],
                password=params["password"],
                connect_timeout=CONNECT_TIMEOUT,
            ).close()
    except ImportError as exc:
        extra = "postgres" if backend == "postgresql" else "mysql"
        return f"driver missing: {exc}; install the '{extra}' extra"
    except Exception as exc:  # any driver error means "not usable"
        return _short_reason(exc, where)
    return None


def _probe_service(name: str) -> str | None:
    """Redis answers PING; RabbitMQ accepts a TCP connection on its AMQP port."""
    import socket

    host, port = SERVICES[name]
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
            if name == "redis":
                sock.sendall(b"PING\r\n")
                if not sock.recv(16).startswith(b"+PONG"):
                    return f"no PONG from {host}:{port}"
    except OSError as exc:
        return _short_reason(exc, f"{host}:{port}")
    return None


def _env_list(var: str, default: str) -> set[str]:
    raw = os.environ.get(var, default).strip()
    if raw.lower() == "all":
        return set(ALL_BACKENDS) | set(SERVICES)
    names = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = names - set(ALL_BACKENDS) - set(SERVICES)
    if unknown:
        pytest.exit(
            f"{var}={raw!r}: unknown backend(s) {sorted(unknown)}; "
            f"choose from {','.join((*ALL_BACKENDS, *SERVICES))} (or 'all' for MIGTOOL_REQUIRE_BACKENDS)",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    return names


_STATUS_KEY = pytest.StashKey[dict[str, BackendStatus]]()


def backend_statuses(config: pytest.Config) -> dict[str, BackendStatus]:
    """Probe the backends once per session and cache the verdict on ``config``."""
    if _STATUS_KEY not in config.stash:
        required = _env_list("MIGTOOL_REQUIRE_BACKENDS", "")
        selected = _env_list("MIGTOOL_TEST_BACKENDS", ",".join(ALL_BACKENDS)) | required
        selected |= set(SERVICES)  # cheap to probe, and only the tests that need one use it
        config.stash[_STATUS_KEY] = {
            name: BackendStatus(
                name=name,
                selected=name in selected,
                required=name in required,
                problem=probe(name) if name in selected else None,
            )
            for name in (*ALL_BACKENDS, *SERVICES)
        }
    return config.stash[_STATUS_KEY]


def usable_backends(config: pytest.Config) -> list[str]:
    return [s.name for s in backend_statuses(config).values() if s.usable and s.name in ALL_BACKENDS]


@pytest.fixture
def require_service(request: pytest.FixtureRequest) -> Any:
    """``require_service("redis")``: skip the test when that service (``redis``, ``rabbitmq``)
    is down; a required one never gets here (the session ends at its start)."""

    def require(name: str) -> None:
        status = backend_statuses(request.config)[name]
        if status.problem is not None:
            pytest.skip(f"{name} is not reachable ({status.problem}); start it, or see .ci/run")

    return require


def _summary_line(config: pytest.Config) -> str:
    return "migtool backends: " + " ".join(s.describe() for s in backend_statuses(config).values())


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail the whole run up front if a required backend is unreachable."""
    statuses = backend_statuses(session.config)
    missing = [s for s in statuses.values() if s.required and s.problem is not None]
    if missing:
        lines = "; ".join(f"{s.name}: {s.problem}" for s in missing)
        pytest.exit(
            f"migtool: required backend(s) unreachable ({lines}). "
            f"MIGTOOL_REQUIRE_BACKENDS={os.environ.get('MIGTOOL_REQUIRE_BACKENDS', '')!r} "
            "demands them: start the server(s) / install the driver, "
            "or unset MIGTOOL_REQUIRE_BACKENDS to skip them.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def pytest_report_header(config: pytest.Config) -> str:
    return _summary_line(config)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Repeat the backend verdict at the end, where a user actually looks."""
    statuses = backend_statuses(config).values()
    skipped = [s.name for s in statuses if s.selected and s.problem is not None]
    terminalreporter.write_sep("=", "database backends")
    terminalreporter.write_line(_summary_line(config), yellow=bool(skipped))
    if skipped:
        terminalreporter.write_line(
            f"Integration tests did NOT run on: {', '.join(skipped)}. "
            "Set MIGTOOL_REQUIRE_BACKENDS=all to make that an error."
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run ``@pytest.mark.backends`` tests once per usable backend."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("backends"):
        names = usable_backends(metafunc.config)
        metafunc.parametrize("backend", names, ids=names, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Name of the database backend for this test (``sqlite`` unless parametrised)."""
    return str(getattr(request, "param", "sqlite"))
