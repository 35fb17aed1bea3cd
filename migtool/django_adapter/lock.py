"""One migtool run at a time per database, with locks that die with their process.

* PostgreSQL: a session-level advisory lock;
* MySQL/MariaDB: ``GET_LOCK`` on a name derived from the database;
* SQLite: an exclusive ``flock`` on a file beside the database file.

The PostgreSQL and MySQL locks are held on a connection of their own, so the
migration connection can be closed after a failure (which Django's SQLite and
MySQL paths sometimes require) without releasing the lock mid-recovery.
Nothing is ever written to a lock table, so nothing can be left stuck: a
killed process's lock is released by the server or the kernel.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from migtool.errors import ConfigurationError, LockHeldError

# "migtool" as a 64-bit number: the advisory-lock key on PostgreSQL.
ADVISORY_KEY = int.from_bytes(b"migtool", "big")
POLL_SECONDS = 0.2


@contextmanager
def migration_lock(connection: Any, timeout: float, holder: Callable[[], str]) -> Iterator[None]:
    """Hold the database's migtool lock for the block; wait up to ``timeout`` seconds.

    Raises ``LockHeldError`` naming the holder (``holder()`` describes it)
    when the lock stays taken.
    """
    lock = _lock_for(connection)
    deadline = time.monotonic() + max(timeout, 0)
    while not lock.try_acquire():
        if time.monotonic() >= deadline:
            lock.close()
            raise LockHeldError(
                f"Another migtool run holds the lock on database {connection.alias!r}: {holder()}.",
                hint="Wait for it to finish, or raise --lock-timeout. The lock is released when that process "
                "exits, even if it is killed.",
            )
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()
        lock.close()


def is_locked(connection: Any) -> bool:
    """Return whether some run holds the lock now, without waiting (read-only)."""
    lock = _lock_for(connection)
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
    """A lock held by a dedicated server connection."""

    acquire_sql = ""
    release_sql = ""

    def __init__(self, connection: Any) -> None:
        from django.db import connections

        self.connection = connections.create_connection(connection.alias)
        self.name = f"migtool:{connection.settings_dict['NAME']}"[:64]

    def _scalar(self, sql: str, params: list[Any]) -> Any:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def may_be_held(self) -> bool:
        return True

    def close(self) -> None:
        self.connection.close()


class _PostgresLock(_ServerLock):
    def try_acquire(self) -> bool:
        return bool(self._scalar("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY]))

    def release(self) -> None:
        self._scalar("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])


class _MySQLLock(_ServerLock):
    def try_acquire(self) -> bool:
        return self._scalar("SELECT GET_LOCK(%s, 0)", [self.name]) == 1

    def release(self) -> None:
        self._scalar("SELECT RELEASE_LOCK(%s)", [self.name])


class _SQLiteLock:
    """``flock`` on ``<database file>.migtool-lock``; an in-memory database needs none."""

    def __init__(self, connection: Any) -> None:
        name = str(connection.settings_dict["NAME"])
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


def _lock_for(connection: Any) -> Any:
    if connection.vendor not in _LOCKS:
        raise ConfigurationError(
            f"migtool cannot lock a {connection.vendor} database; it supports SQLite, PostgreSQL and MySQL/MariaDB."
        )
    return _LOCKS[connection.vendor](connection)


_LOCKS: dict[str, Callable[[Any], Any]] = {
    "postgresql": _PostgresLock,
    "mysql": _MySQLLock,
    "sqlite": _SQLiteLock,
}
