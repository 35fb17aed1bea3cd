"""django-tenants' ``SET search_path`` on every cursor, skipped while it cannot have changed.

Why this exists: django-tenants' backend issues ``SET search_path`` before
each new cursor's first statement (unless the project sets
``TENANT_LIMIT_SET_CALLS``), because it cannot know whether a rollback undid
its last ``SET``.  A fleet target's migrate-safe opens about 90 cursors, so
half of its statements were that ``SET``; on a loaded server each is a round
trip of a millisecond.

While a schema target is active, migtool skips the ``SET`` only where it is
provably a no-op.  That is when the connection is outside any transaction,
the path django-tenants wants is the one last set outside a transaction, and
no cursor has been used inside a transaction since then.  A ``SET`` issued in
autocommit mode is committed at once and stays until the next one.
django-tenants forgets its path on ``set_schema`` and ``close``, so a changed
schema or a new session always gets its ``SET``.  A migration (or a
``post_migrate`` receiver) runs inside a transaction, and every cursor there
gets the ``SET`` as usual; the first cursor after it sets the path again.
"""

from __future__ import annotations

from typing import Any


def set_only_when_needed(connection: Any) -> None:
    """Make django-tenants' ``connection`` skip the provably redundant ``SET search_path``."""
    if "_handle_search_path" in connection.__dict__ or not hasattr(connection, "_handle_search_path"):
        return  # done already; or a django-tenants before 4.0, which sets the path inside _cursor()
    per_cursor = connection._handle_search_path
    committed: list[Any] = [None]  # the path last set outside a transaction, while still in force

    def handle_search_path(cursor: Any = None) -> None:
        outside = not connection.in_atomic_block and connection.get_autocommit()
        wanted = connection.search_path_set_schemas
        if outside and wanted is not None and committed[0] == wanted:
            return
        per_cursor(cursor)
        committed[0] = connection.search_path_set_schemas if outside else None

    connection._handle_search_path = handle_search_path


def set_on_every_cursor(connection: Any) -> None:
    """Give ``connection`` back django-tenants' own behaviour."""
    connection.__dict__.pop("_handle_search_path", None)
