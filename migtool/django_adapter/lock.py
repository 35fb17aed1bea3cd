"""One migtool run at a time per database, with locks that die with their process.

* PostgreSQL: a session-level advisory lock;
* MySQL/MariaDB: ``GET_LOCK`` on a name derived from the database;
* SQLite: an exclusive ``flock`` on a file beside the database file.

A lock may have a ``scope`` inside its database, a PostgreSQL schema of a
fleet: then it has a key (or name) of its own, so runs on different schemas
of one database proceed in parallel while two runs never share a schema.

The PostgreSQL and MySQL locks are held on a connection of their own, so the
migration connection can be closed after a failure (which Django's SQLite and
MySQL paths sometimes require) without releasing the lock mid-recovery.
Nothing is ever written to a lock table, so nothing can be left stuck: a
killed process's lock is released by the server or the kernel.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from migtool.django_adapter.schemas import lock_scope
from migtool.errors import ConfigurationError, LockHeldError

# "migtool" as a 64-bit number: the advisory-lock key on PostgreSQL.
ADVISORY_KEY = int.from_bytes(b"migtool", "big")
POLL_SECONDS = 0.2


@contextmanager
def migration_lock(
    connection: Any, timeout: float, holder: Callable[[], str], scope: str | None = None
) -> Iterator[None]:
    """Hold the database's migtool lock (for ``scope`` in it, if given) for the block;
    wait up to ``timeout`` seconds.

    Raises ``LockHeldError`` naming the holder (``holder()`` describes it)
    when the lock stays taken.
    """
    scope = lock_scope(connection, scope)
    lock = _lock_for(connection, scope)
    deadline = time.monotonic() + max(timeout, 0)
    while not lock.try_acquire():
        if time.monotonic() >= deadline:
            lock.close()
            raise LockHeldError(
                f"Another migtool run holds the lock on database {connection.alias!r}"
                f"{f' schema {scope!r}' if scope else ''}: {holder()}.",
                hint="Wait for it to finish, or raise --lock-timeout. The lock is released when that process "
                "exits, even if it is killed.",
            )
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()
        lock.close()


def is_locked(connection: Any, scope: str | None = None) -> bool:
    """Return whether some run holds the lock now, without waiting (read-only)."""
    lock = _lock_for(connection, lock_scope(connection, scope))
    if not lock.may_be_held():
        return False
    try:
        if lock.try_acquire():
            lock.release()
            return False
        return True
    finally:
        lock.close()


class _ServerLock:
    """A lock held by a dedicated server connection.

    In a process that asked for it (``keep_lock_connections``: a fleet's worker
    process, which takes one lock per target and exits with the fleet run),
    the connection is kept once it holds no lock, for the next lock of the same
    alias in the same thread; a new server connection per target cost more than
    the lock itself.  One whose statement failed is closed instead: whatever it
    held went with it.
    """

    acquire_sql = ""
    release_sql = ""

    def __init__(self, connection: Any, scope: str | None) -> None:
        from django.db import connections

        idle = _idle_connections()
        self.connection = idle.pop(connection.alias, None) or connections.create_connection(connection.alias)
        self.sound = True
        self.name = f"migtool:{connection.settings_dict['NAME']}{f':{scope}' if scope else ''}"[:64]
        self.key = ADVISORY_KEY if scope is None else _scope_key(scope)

    def _scalar(self, sql: str, params: list[Any]) -> Any:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()[0]
        except BaseException:
            self.sound = False
            raise

    def may_be_held(self) -> bool:
        return True

    def close(self) -> None:
        """Called once the lock is released or was never taken."""
        idle = _idle_connections()
        if _keeping and self.sound and self.connection.alias not in idle:
            idle[self.connection.alias] = self.connection
        else:
            self.connection.close()


def keep_lock_connections() -> None:
    """Keep lock connections open between locks, for the rest of this process."""
    global _keeping
    _keeping = True


_keeping = False
_idle = threading.local()
_inherited: list[Any] = []  # a forked child's copies of its parent's: never used, never closed


def _idle_connections() -> dict[str, Any]:
    """This thread's idle lock connections, by alias.  A forked child starts without
    any: it must neither use its parent's sessions nor close them (closing ends them)."""
    if getattr(_idle, "pid", None) != os.getpid():
        _inherited.extend(getattr(_idle, "connections", {}).values())
        _idle.pid, _idle.connections = os.getpid(), {}
    return _idle.connections  # type: ignore[no-any-return]


class _PostgresLock(_ServerLock):
    def try_acquire(self) -> bool:
        return bool(self._scalar("SELECT pg_try_advisory_lock(%s)", [self.key]))

    def release(self) -> None:
        self._scalar("SELECT pg_advisory_unlock(%s)", [self.key])


def _scope_key(scope: str) -> int:
    """A signed 64-bit advisory-lock key for a scope, stable across processes and machines."""
    return int.from_bytes(hashlib.sha256(f"migtool:{scope}".encode()).digest()[:8], "big", signed=True)


class _MySQLLock(_ServerLock):
    def try_acquire(self) -> bool:
        return self._scalar("SELECT GET_LOCK(%s, 0)", [self.name]) == 1

    def release(self) -> None:
        self._scalar("SELECT RELEASE_LOCK(%s)", [self.name])


class _SQLiteLock:
    """``flock`` on ``<database file>.migtool-lock``; an in-memory database needs none."""

    def __init__(self, connection: Any, scope: str | None) -> None:
        name = str(connection.settings_dict["NAME"])
        if scope is not None:
            name = f"{name}.{scope}"
        self.path = None if name == ":memory:" or name.startswith("file:") else f"{name}.migtool-lock"
        self.handle: Any = None

    def may_be_held(self) -> bool:
        """No lock file, no holder: checking must not create the file."""
        return self.path is not None and os.path.exists(self.path)

    def try_acquire(self) -> bool:
        import fcntl

        if self.path is None:
            return True
        if self.handle is None:
            self.handle = open(self.path, "a")  # noqa: SIM115 - held open for the whole run
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        import fcntl

        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _lock_for(connection: Any, scope: str | None) -> Any:
    if connection.vendor not in _LOCKS:
        raise ConfigurationError(
            f"migtool cannot lock a {connection.vendor} database; it supports SQLite, PostgreSQL and MySQL/MariaDB."
        )
    return _LOCKS[connection.vendor](connection, scope)


_LOCKS: dict[str, Callable[[Any, str | None], Any]] = {
    "postgresql": _PostgresLock,
    "mysql": _MySQLLock,
    "sqlite": _SQLiteLock,
}
