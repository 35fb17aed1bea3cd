"""What each database really does when a revert tightens a column: measured, not assumed.

The pre-flight predicts whether Django's revert will fail.  Django's schema
editor sends much the same ``ALTER TABLE`` everywhere, but the databases
disagree about existing rows: SQLite keeps a too-large number, PostgreSQL
refuses it, MariaDB refuses it only in strict mode.  Those differences live in
``FACTS``, one entry per backend (``connection.vendor``), and nowhere else.
Every fact was measured on SQLite 3.40, PostgreSQL 15 and MariaDB 10.11 with
Django's default connection settings, and ``tests/integration/
test_preflight_matrix.py`` re-measures each one against Django's real revert.
What Django itself decides (which constraints it creates on a backend, whether
it drops columns with ``CASCADE``) is read from Django, not stored here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Only in strict mode does MariaDB/MySQL refuse a value instead of clipping or zeroing it.
_STRICT_MODES = frozenset({"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES"})
DATE_TYPES = frozenset({"DateField", "DateTimeField"})


@dataclass(frozen=True)
class BackendFacts:
    """How one backend treats existing rows when a revert narrows or re-adds a column.

    ``range_checked``/``digits_checked``: an ``ALTER`` to a narrower integer
    type, or to fewer ``DecimalField`` digits, fails over values that no
    longer fit ("always", "strict": only in strict ``sql_mode``, "never": the
    values are kept as they are).  ``implicit_not_null_default``: a NOT NULL
    column added without a default gives existing rows the type's zero value
    instead of failing.  ``views_on_dropped_column``/``views_on_dropped_table``:
    what dropping a column or table that a view reads does, when Django's SQL
    has no ``CASCADE`` ("refused", or "left invalid": the view stays and fails
    when read); ``broken_view_effect``: what such a view does to later steps.
    ``date_from_datetime``: SQL true for the values that turning a datetime
    column back into a date damages; ``date_keeps_time``: those values keep
    their datetime text (SQLite's table copy), which Django's date converter
    (``parse_date``) reads back as None, instead of losing the time of day.
    """

    range_checked: str
    digits_checked: str
    implicit_not_null_default: bool
    views_on_dropped_column: str
    views_on_dropped_table: str
    broken_view_effect: str
    date_from_datetime: str
    date_keeps_time: bool


FACTS: dict[str, BackendFacts] = {
    "sqlite": BackendFacts(
        # Positive*Field's CHECK (col >= 0) is enforced; widths are not (ops.integer_field_range says so).
        range_checked="always",
        digits_checked="never",  # NUMERIC affinity: 12345.67 stays in a decimal(5, 2) column
        implicit_not_null_default=False,  # "Cannot add a NOT NULL column with default value NULL"
        views_on_dropped_column="refused",  # "error in view v after drop column: no such column"
        views_on_dropped_table="left invalid",
        # ALTER TABLE ... RENAME re-parses every view: "error in view v: no such table".
        broken_view_effect="SQLite then refuses every later table rebuild until the view is dropped",
        date_from_datetime="LENGTH({col}) > 10",  # '2024-01-01 00:00:00' is longer than a date
        date_keeps_time=True,  # the table copy moves '2024-01-01 10:00:00' into the date column as it is
    ),
    "postgresql": BackendFacts(
        range_checked="always",  # "integer out of range"
        digits_checked="always",  # "numeric field overflow"; extra decimal places are rounded
        implicit_not_null_default=False,  # "column ... contains null values"
        views_on_dropped_column="refused",  # "cannot drop column ... because other objects depend on it"
        views_on_dropped_table="refused",  # never reached: Django drops tables with CASCADE
        broken_view_effect="",
        date_from_datetime="CAST({col} AS time) <> '00:00:00'",
        date_keeps_time=False,  # USING col::date, in the connection's time zone (UTC under USE_TZ)
    ),
    "mysql": BackendFacts(
        range_checked="strict",  # 1264 "Out of range value"; clipped outside strict mode
        digits_checked="strict",  # 1264 after rounding; extra decimal places only give Note 1265
        implicit_not_null_default=True,  # 0, '', '0000-00-00'; see zero_date_refused
        views_on_dropped_column="left invalid",  # the view stays, and fails when read (1356)
        views_on_dropped_table="left invalid",
        broken_view_effect="",
        date_from_datetime="CAST({col} AS time) <> '00:00:00'",
        date_keeps_time=False,  # truncated with Note 1265, even in strict mode
    ),
}


def facts(connection: Any) -> BackendFacts | None:
    """The measured facts for ``connection``'s backend; None for a backend nobody measured."""
    return FACTS.get(connection.vendor)


def refuses(connection: Any, when: str) -> bool:
    """Whether a fact that holds ``when`` ("always", "strict", "never") holds on ``connection`` now."""
    if when == "strict":
        return bool(_sql_mode(connection) & _STRICT_MODES)
    return when == "always"


def implicit_default_refused(connection: Any, field: Any) -> str | None:
    """Why re-adding NOT NULL ``field`` without a default fails over rows despite the
    implicit default, or None when the implicit default fills them.

    Only where ``implicit_not_null_default`` holds.  A foreign key gets 0, which
    references no row, so adding its constraint fails (1452).  A date gets
    '0000-00-00', refused (1292) when ``sql_mode`` has NO_ZERO_DATE, strict
    mode or not (measured: ALTER TABLE is stricter than an INSERT here);
    MariaDB's default ``sql_mode`` has no NO_ZERO_DATE.
    """
    if field.remote_field is not None:
        return "the implicit default 0 references no row"
    if field.get_internal_type() in DATE_TYPES and "NO_ZERO_DATE" in _sql_mode(connection):
        return "the implicit zero date is refused under NO_ZERO_DATE"
    return None


def _sql_mode(connection: Any) -> set[str]:
    """The connection's ``sql_mode`` (MariaDB/MySQL; Django reads it once per connection)."""
    return set(getattr(connection, "sql_mode", None) or ())
