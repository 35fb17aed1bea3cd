"""Projects and a driver for ``test_preflight.py``.

Each case is one app, ``shop``: ``0001_initial`` creates ``Item`` with the
fields given, and every later migration (``0002_step``, ``0003_step``, ...)
holds the operations of one ``Step``.  ``DRIVER`` runs ``check_steps`` inside
the temp project (the test process never sets up Django) and prints the
verdicts as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from projects import migration

APP = "shop"
TABLE = "shop_item"

# Module-level code for RunPython operations (put into every step's module).
FUNCTIONS = """
def forwards(apps, schema_editor):
    pass


def backwards(apps, schema_editor):
    pass
"""


@dataclass(frozen=True)
class Step:
    """One migration after ``0001_initial``: its operations (Python expressions)."""

    ops: Sequence[str]
    atomic: bool | None = None
    preamble: str = ""  # extra module code, after FUNCTIONS


def step_name(number: int) -> str:
    return "0001_initial" if number == 1 else f"{number:04d}_step"


def shop(fields: Sequence[str], *steps: Step) -> dict[str, dict[str, str]]:
    """``{"shop": {...}}``: Item(id, *fields), then one migration per step, in a chain."""
    item = (
        "migrations.CreateModel('Item', [('id', models.BigAutoField(primary_key=True)), "
        + "".join(f"{f}, " for f in fields)
        + "])"
    )
    migrations = {step_name(1): migration(ops=[item], initial=True)}
    for number, step in enumerate(steps, start=2):
        migrations[step_name(number)] = migration(
            deps=[(APP, step_name(number - 1))],
            ops=step.ops,
            atomic=step.atomic,
            preamble=FUNCTIONS + step.preamble,
        )
    return {APP: migrations}


# Fields of Item used by several cases.
NOTE = "('note', models.CharField(max_length=20))"
CODE = "('code', models.CharField(max_length=10))"
UNIQUE_CODE = "('code', models.CharField(max_length=10, unique=True))"
QTY = "('qty', models.IntegerField())"

LONG_VALUE = "x" * 50

# A third-party style operation that never overrides database_backwards.
CUSTOM_OPERATION = """

class TouchNothing(migrations.operations.base.Operation):
    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        pass
"""

DRIVER = '''\
"""Print check_steps() for the migrations named on the command line, as JSON."""
import json
import sys

import django

django.setup()

from django.db import connection

from migtool.core.graph import MigrationKey
from migtool.django_adapter.plans import prepare_backwards
from migtool.django_adapter.preflight import check_steps

keys = [MigrationKey(*arg.split(".", 1)) for arg in sys.argv[1:]]
checks = check_steps(connection, prepare_backwards(connection, keys, False))
print(json.dumps({
    "checks": [
        {
            "key": str(c.key),
            "effects": list(c.effects),
            "blockers": list(c.blockers),
            "data_loss": list(c.data_loss),
            "atomic": c.atomic,
            "uncertain": list(c.uncertain),
        }
        for c in checks
    ],
    "connection_clean": not connection.in_atomic_block and connection.get_autocommit(),
}))
'''
