"""Reverts that turn a column back into a narrower type, against today's values.

A ``BigIntegerField`` back to ``IntegerField``, a ``DecimalField`` back to fewer
digits, a ``DateTimeField`` back to ``DateField``: Django sends one ``ALTER``,
and what the database does with values that no longer fit differs per backend
(``backend_facts``).  Each check counts those values with a read-only query
and blocks only where the database refuses them; where it keeps, rounds or
truncates them instead, the count goes into a note or the data loss (fewer
decimal digits are counted only where the database refuses them).
"""

from __future__ import annotations

from typing import Any

from migtool.core.safety import plural
from migtool.django_adapter.backend_facts import facts, refuses
from migtool.django_adapter.data_probe import Revert

INTEGER_TYPES = frozenset(
    {
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
    }
)


def restores_integer_range(revert: Revert, table: str, now: Any, back: Any) -> None:
    """An integer type with a narrower range comes back (Django's ``integer_field_range`` per backend)."""
    known = facts(revert.connection)
    kinds = back.get_internal_type(), now.get_internal_type()
    if known is None or not set(kinds) <= INTEGER_TYPES:
        return
    low, high = _enforced_range(revert.connection, kinds[0])
    now_low, now_high = _enforced_range(revert.connection, kinds[1])
    below = low is not None and (now_low is None or now_low < low)
    above = high is not None and (now_high is None or now_high > high)
    if not (below or above):
        return
    column = revert.probe.quote(now.column)
    outside = ([f"{column} < {low:d}"] if below else []) + ([f"{column} > {high:d}"] if above else [])
    sql = f"SELECT COUNT(*) FROM {revert.probe.quote(table)} WHERE " + " OR ".join(outside)
    bad = revert.count(f"values in {table}.{now.column}", table, [now.column], sql)
    if not bad:
        return
    bounds = f"{'' if low is None else low}..{'' if high is None else high}"
    if refuses(revert.connection, known.range_checked):
        revert.blockers.append(
            f"Reverting turns {table}.{now.column} back into {kinds[0]} ({bounds}), "
            f"but the column holds {plural(bad, 'value')} outside that range."
        )
    else:
        revert.notes.append(f"{plural(bad, 'value')} outside {bounds} not refused here: they are clipped")


def _enforced_range(connection: Any, internal_type: str) -> tuple[int | None, int | None]:
    """The values an integer column of ``internal_type`` accepts on ``connection``.

    ``integer_field_range`` is Django's word on the type's width; the CHECK
    ``col >= 0`` Django adds to positive types (``data_type_check_constraints``)
    also holds where that range says nothing (SQLite on Django 4.2).
    """
    low, high = connection.ops.integer_field_range(internal_type)
    if low is None and internal_type in connection.data_type_check_constraints:
        low = 0
    return low, high


def restores_decimal_digits(revert: Revert, table: str, now: Any, back: Any) -> str | None:
    """Fewer ``max_digits``/``decimal_places`` come back: a value that, rounded to the restored
    decimal places, has more integer digits than fit, overflows (measured: PostgreSQL, MariaDB)."""
    known = facts(revert.connection)
    if known is None or not (back.get_internal_type() == now.get_internal_type() == "DecimalField"):
        return None
    digits, places = back.max_digits, back.decimal_places
    if (digits, places) == (now.max_digits, now.decimal_places):
        return None
    narrower = digits - places < now.max_digits - now.decimal_places or places < now.decimal_places
    if not narrower or not refuses(revert.connection, known.digits_checked):
        return f"max_digits {digits}, decimal_places {places}"
    column = revert.probe.quote(now.column)
    rounded_value = f"ROUND({column}, {int(places)})"
    count_sql = f"SELECT COUNT(*) FROM {revert.probe.quote(table)} WHERE "
    sql = count_sql + f"ABS({rounded_value}) >= {10 ** (digits - places)}"
    bad = revert.count(f"values in {table}.{now.column}", table, [now.column], sql)
    if bad:
        revert.blockers.append(
            f"Reverting turns {table}.{now.column} back into decimal({digits}, {places}), "
            f"but {plural(bad, 'value')} need more than {digits - places} digits before the point."
        )
    if places < now.decimal_places:
        rounded_sql = count_sql + f"{column} <> {rounded_value}"
        rounded = revert.count(f"rounding in {table}.{now.column}", table, [now.column], rounded_sql)
        if rounded:
            where = f"{table}.{now.column}"
            revert.data_loss.append(f"rounds {plural(rounded, 'value')} of {where} to {places} decimal places")
    return f"max_digits {digits}, decimal_places {places}"


def restores_date(revert: Revert, table: str, now: Any, back: Any) -> None:
    """A ``DateTimeField`` turns back into a ``DateField``: no backend refuses it (measured).
    PostgreSQL and MariaDB drop the time of day; SQLite keeps the datetime text, which
    Django then reads back as None.  Either is data loss."""
    known = facts(revert.connection)
    if known is None or (back.get_internal_type(), now.get_internal_type()) != ("DateField", "DateTimeField"):
        return
    condition = known.date_from_datetime.format(col=revert.probe.quote(now.column))
    sql = f"SELECT COUNT(*) FROM {revert.probe.quote(table)} WHERE {condition}"
    damaged = revert.count(f"values in {table}.{now.column}", table, [now.column], sql)
    if not damaged:
        return
    values = f"{plural(damaged, 'value')} of {table}.{now.column}"
    if known.date_keeps_time:
        revert.data_loss.append(f"keeps the datetime text of {values}, which Django reads back as None")
    else:
        revert.data_loss.append(f"drops the time of day from {values}")
