"""After a failed batch: undo what completed, then verify the database is back.

A batch that ran step by step (MySQL/MariaDB, non-atomic steps) leaves its
completed steps behind when one fails; they are undone here, newest first.
Whatever ran, the outcome is then verified by re-reading ``django_migrations``
and the schema against what they were before the batch, never assumed: the
result is an ``ExecutionError`` (restored) or a ``RestoreFailedError`` (not
restored, saying what differs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from migtool.core.graph import MigrationKey
from migtool.django_adapter.fast_path import swappable_cache_kept, unapply_plan
from migtool.django_adapter.loader import load_recorded, load_schema
from migtool.django_adapter.plans import Prepared, build_executor
from migtool.django_adapter.squash_view import SquashView
from migtool.errors import ExecutionError, RestoreFailedError

if TYPE_CHECKING:
    from migtool.django_adapter.executor import Batch


def reset_connection(connection: Any) -> Any:
    """Return a usable connection for the alias after a failure.

    SQLite's schema editor can raise inside ``__exit__`` before leaving its
    atomic block (§2.4), and Django then keeps the wrapper marked as inside a
    transaction even once closed.  Such a wrapper is closed (rolling back what
    is uncommitted) and replaced by a fresh one for everything that follows.
    """
    from django.db import connections

    if connection.connection is not None and (connection.in_atomic_block or not connection.get_autocommit()):
        connection.close()
        connections[connection.alias] = connections.create_connection(connection.alias)
        return connections[connection.alias]
    connection.close_if_unusable_or_obsolete()
    return connection


def compensate(
    connection: Any,
    batch: Batch,
    done: list[MigrationKey],
    progress: Callable[..., None],
    view: SquashView | None,
) -> BaseException | None:
    """Undo, with a fresh executor, the steps of ``batch`` that completed, newest first.

    The executor's graph is in ``view``, the squash view the batch ran in:
    what is recorded now may make Django resolve a squash the other way and
    leave out the very migrations to undo.  Returns the error if undoing
    fails too; ``verify_restored`` then reads what is applied now.
    """
    executor = build_executor(connection, batch.use_originals, progress, view=view)
    try:
        migrations = [executor.loader.graph.nodes[tuple(k)] for k in reversed(done)]
        with swappable_cache_kept():
            if batch.backwards:
                executor.migrate(None, plan=[(m, False) for m in migrations])
            else:  # undoing a forward batch is a rollback: the fast path's, as for migtool rollback
                unapply_plan(Prepared(executor, migrations), batch.fast_path)
    except Exception as exc:  # reported, with what is applied now, by verify_restored
        return exc
    return None


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def verify_restored(
    connection: Any,
    before: tuple[Any, frozenset[tuple[str, ...]]],
    batch: Batch,
    failed: MigrationKey | None,
    error: BaseException,
    compensation_error: BaseException | None,
    compensated: bool,
) -> None:
    rows_before, schema_before = before
    after, schema_after = load_recorded(connection), load_schema(connection)
    what = f"{batch.verb} {failed} failed" if failed else f"{batch.verb} the batch failed"
    reason = first_line(error)
    if set(after) == set(rows_before) and schema_after == schema_before and compensation_error is None:
        # Re-applying a reverted step re-creates what it had dropped, empty; unapplying a
        # forward step drops what it created, with anything written into it meanwhile.
        lost = (
            " Tables and columns that were dropped and re-created are back empty: their data is lost."
            if compensated and batch.backwards
            else ""
        )
        raise ExecutionError(
            f"{what} ({reason}); the database was restored to its starting state (rows and schema verified).{lost}",
            hint="Fix the cause, then run the command again.",
            failed=str(failed) if failed else None,
            error=reason,
        )
    gone = sorted(str(k) for k in set(rows_before) - set(after))
    extra = sorted(str(k) for k in set(after) - set(rows_before))
    schema = _schema_changes(schema_before, schema_after)
    undo = f"; restoring failed too ({first_line(compensation_error)})" if compensation_error else ""
    raise RestoreFailedError(
        f"{what} ({reason}){undo}. The database was NOT restored: "
        f"no longer applied: {', '.join(gone) or 'none'}; newly applied: {', '.join(extra) or 'none'}"
        f"{'; schema differs: ' + schema if schema else ''}.",
        hint="Inspect it with 'migtool status', fix the cause, then migrate or roll back by hand.",
        failed=str(failed) if failed else None,
        error=reason,
        unapplied_now=gone,
        applied_now=extra,
        schema_changes=schema,
    )


def _schema_changes(before: frozenset[tuple[str, ...]], after: frozenset[tuple[str, ...]]) -> str:
    """Name the columns that appeared or disappeared (or changed type), a few at most."""
    changed = [f"+{t}.{c}" for t, c, *_ in sorted(after - before)] + [
        f"-{t}.{c}" for t, c, *_ in sorted(before - after)
    ]
    return ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
