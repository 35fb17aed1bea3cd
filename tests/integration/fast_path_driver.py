"""Child process of the fast-path SQL oracle (test_fast_path.py): Django's executor against
migtool's fast path, in collect mode, for each plan given on stdin.

Run inside a generated project (``DJANGO_SETTINGS_MODULE`` set) on a fully
migrated database (collect mode still introspects it), then for each cut
(``{app: migrations kept}``) prints, as one JSON line:

* ``django``: what Django's own ``MigrationExecutor.migrate(targets)`` emits,
  with only ``unapply_migration`` swapped for one that collects the SQL
  instead of running it (its render phase, states and ``Migration.unapply``
  are Django's, untouched);
* ``fast``: what migtool's ``collect_sql`` emits for the same plan on the fast
  path, and its ``counts``.

The fast path runs first: replaying a ``RenameField`` of a field another one
follows by ``to_field`` rewrites that field in place, in the migration
module's own operation, for the rest of the process (render-speed.md §4 trap
3); only the first replay of a process sees the history as written, and the
fast path must give way to Django's path there.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

from migtool.core.graph import MigrationKey  # noqa: E402
from migtool.django_adapter.plans import Prepared, build_executor, collect_sql, plan_migrations  # noqa: E402


class CollectingExecutor(MigrationExecutor):
    """Django's executor, whose reverts collect their SQL instead of running it."""

    def __init__(self) -> None:
        super().__init__(connection)
        self.statements: list[str] = []

    def unapply_migration(self, state, migration, fake=False):  # type: ignore[no-untyped-def]
        with self.connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            migration.unapply(state, editor, collect_sql=True)
        self.statements.append(f"-- Unapply {migration.app_label}.{migration.name}")
        self.statements.extend(editor.collected_sql)
        return state

    def check_replacements(self) -> None:
        pass  # nothing was unrecorded


def targets_of(cut: dict[str, int]) -> list[tuple[str, str | None]]:
    """Per app, the last migration the cut keeps: the first ``cut[app]`` of the app, less
    any whose dependencies the cut does not keep (a release is closed under them)."""
    graph = MigrationExecutor(connection).loader.graph
    names = {app: sorted(name for label, name in graph.nodes if label == app) for app in cut}
    kept = {(app, name) for app, n in cut.items() for name in names[app][:n]}
    while broken := {key for key in kept if not graph.node_map[key].parents <= kept}:
        kept -= broken
    return [(app, max((n for a, n in kept if a == app), default=None)) for app in cut]


def main() -> None:
    for line in sys.stdin:
        cut = json.loads(line)
        oracle = CollectingExecutor()
        plan = oracle.migration_plan(targets_of(cut))
        if not plan or not all(backwards for _, backwards in plan):
            print(json.dumps({"cut": cut, "skipped": "mixed or empty plan"}), flush=True)
            continue
        steps = [MigrationKey(m.app_label, m.name) for m, _ in plan]
        result: dict[str, object] = {"cut": cut, "steps": [str(s) for s in steps]}
        executor = build_executor(connection, False)
        prepared = Prepared(executor, plan_migrations(executor, steps))
        result["fast"] = collect_sql(connection, prepared, True)
        result["counts"] = dataclasses.asdict(prepared.counts)
        oracle.migrate(targets_of(cut))
        result["django"] = oracle.statements
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
