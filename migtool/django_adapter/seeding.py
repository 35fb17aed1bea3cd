"""Generated rows for every table of a migrated database, the data most likely to break a revert.

An empty database cannot show the reverts that fail on data: NOT NULL
re-added over NULLs, a shorter ``max_length`` over longer text, uniqueness
restored over repeated values, an integer type restored over text.
``verify --with-data`` therefore seeds a few rows in every table at each
release, through the historical models of the state the database is in (so
every value is valid for its field at that release), and chosen to stress
exactly those reverts:

* NULL wherever the field allows it (in the first row of each batch);
* otherwise the longest text and the largest number the field allows;
* the same value in every row, except for fields that must be unique (the
  primary key, ``unique``, ``unique_together`` and unique constraints),
  which get distinct values;
* foreign keys point at rows seeded earlier (distinct rows where the key
  must be unique), tables being filled in dependency order.

A row the database refuses (a check constraint, say) is skipped and
reported, never silently.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ROWS_PER_TABLE = 3
_FALLBACK_LENGTH = 50
_TEXT = "migtoolseed"
_INTEGER_RANGES = {
    "SmallIntegerField": 32767,
    "IntegerField": 2147483647,
    "BigIntegerField": 9223372036854775807,
    "PositiveSmallIntegerField": 32767,
    "PositiveIntegerField": 2147483647,
    "PositiveBigIntegerField": 9223372036854775807,
}


@dataclass
class SeedReport:
    """How many rows went into each table, and what could not be seeded (one phrase each)."""

    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class _Unseedable(Exception):
    """No valid value can be generated for a field of this row."""


class Seeder:
    """Seeds one database across a rehearsal; ``serial`` keeps unique values distinct
    from those seeded at earlier releases, which are still in the tables."""

    def __init__(self) -> None:
        self.serial = 0

    def seed(self, connection: Any) -> SeedReport:
        """Insert ``ROWS_PER_TABLE`` rows into every table of the state ``connection`` is in."""
        from django.db import DatabaseError, transaction

        from migtool.django_adapter.plans import build_executor
        from migtool.django_adapter.restore import first_line

        executor = build_executor(connection, False)
        state = executor._create_project_state(with_applied_migrations=True)
        report = SeedReport()
        for model in _in_dependency_order(state.apps.get_models(include_auto_created=True)):
            table = model._meta.db_table
            for row in range(ROWS_PER_TABLE):
                self.serial += 1
                try:
                    values = _row(model, connection.alias, row, self.serial)
                    with transaction.atomic(using=connection.alias):
                        model._base_manager.db_manager(connection.alias).create(**values)
                except _Unseedable as exc:
                    report.skipped.append(f"{table}: {exc}")
                    break
                except DatabaseError as exc:
                    report.skipped.append(f"{table}: {first_line(exc)}")
                    break
                report.rows[table] = report.rows.get(table, 0) + 1
        return report


def _in_dependency_order(models: Iterable[Any]) -> list[Any]:
    """Managed, concrete models, each after the models its foreign keys point at
    (a cycle is broken by name order; its keys are then NULL or the row skipped)."""
    pending = {
        m._meta.label_lower: m
        for m in models
        if m._meta.managed and not m._meta.proxy and not getattr(m._meta, "swapped", False)
    }
    ordered: list[Any] = []
    while pending:
        ready = [
            label
            for label, model in sorted(pending.items())
            if not any(
                target in pending and target != label
                for target in (f.related_model._meta.label_lower for f in model._meta.concrete_fields if f.is_relation)
            )
        ]
        for label in ready or [min(pending)]:
            ordered.append(pending.pop(label))
    return ordered


def _unique_fields(model: Any) -> set[str]:
    """Names of the fields that take part in any uniqueness rule of ``model``."""
    from django.db.models import UniqueConstraint

    meta = model._meta
    names = {f.name for f in meta.concrete_fields if f.unique or f.primary_key}
    for together in meta.unique_together:
        names.update(together)
    for constraint in meta.constraints:
        if isinstance(constraint, UniqueConstraint):
            names.update(constraint.fields)
    return names


def _row(model: Any, alias: str, row: int, serial: int) -> dict[str, Any]:
    unique = _unique_fields(model)
    values: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if getattr(f, "generated", False) or (f.primary_key and f.get_internal_type().endswith("AutoField")):
            continue
        if f.null and row == 0:
            values[f.attname] = None
        elif f.is_relation:
            values[f.attname] = _reference(f, alias, row if f.name in unique else 0)
        else:
            values[f.attname] = _value(f, serial if f.name in unique else 0)
    return values


def _reference(f: Any, alias: str, row: int) -> Any:
    target = f.related_model
    pks = list(target._base_manager.db_manager(alias).order_by("pk").values_list(f.target_field.attname, flat=True))
    if len(pks) > row:
        return pks[row]
    if f.null:
        return None
    raise _Unseedable(f"no {target._meta.db_table} row for {f.name} to point at")


def _value(f: Any, serial: int) -> Any:
    """The field's most demanding valid value; ``serial`` > 0 makes it unique."""
    kind = f.get_internal_type()
    if f.choices:
        choices = [value for value, _ in f.flatchoices]
        return choices[serial % len(choices)]
    if kind in _INTEGER_RANGES:
        return _INTEGER_RANGES[kind] - serial
    if kind in ("CharField", "SlugField", "EmailField", "URLField", "FilePathField", "FileField", "ImageField"):
        return _text(f.max_length or _FALLBACK_LENGTH, serial)
    if kind == "TextField":
        return _text(_FALLBACK_LENGTH, serial)
    if kind == "BooleanField":
        return serial % 2 == 0
    if kind == "FloatField":
        return 1.5 + serial
    if kind == "DecimalField":
        whole = f.max_digits - f.decimal_places
        largest = decimal.Decimal(10) ** whole - decimal.Decimal(1).scaleb(-f.decimal_places)
        return largest - serial
    if kind in ("DateTimeField", "DateField", "TimeField"):
        moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(minutes=serial)
        moment = moment if _use_tz() else moment.replace(tzinfo=None)
        return {"DateField": moment.date(), "TimeField": moment.time()}.get(kind, moment)
    if kind == "DurationField":
        return datetime.timedelta(seconds=serial)
    if kind == "UUIDField":
        return uuid.UUID(int=serial)
    if kind == "JSONField":
        return {"migtool": serial}
    if kind == "BinaryField":
        return _TEXT.encode() + str(serial).encode()
    if kind == "GenericIPAddressField":
        return f"10.{serial // 65536 % 256}.{serial // 256 % 256}.{serial % 256}"
    if f.has_default():
        return f.get_default()
    raise _Unseedable(f"cannot generate a value for {f.name} ({kind})")


def _text(length: int, serial: int) -> str:
    """Text of exactly ``length`` characters (letters only: not a number), ending in ``serial`` if > 0."""
    suffix = _letters(serial) if serial else ""
    body = (_TEXT * (length // len(_TEXT) + 1))[: max(length - len(suffix), 0)]
    return (body + suffix)[-length:] if length else ""


def _letters(number: int) -> str:
    """``number`` written in the letters a-z, so seeded text never parses as a number."""
    digits = ""
    while number:
        number, rest = divmod(number, 26)
        digits = chr(ord("a") + rest) + digits
    return digits


def _use_tz() -> bool:
    from django.conf import settings

    return bool(settings.USE_TZ)
