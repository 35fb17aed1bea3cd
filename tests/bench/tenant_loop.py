"""migtool over a django-tenants fleet in one process, until the fleet engine lands.

What ``migtool migrate-safe --tenants`` does per process, built from the
single-target path: the project is set up and its migration files read once;
one query finds the schemas already up to date (skipped, nothing written); each
other schema (``public`` first) is migrated by ``migrate-safe`` on the target
``ALIAS:SCHEMA`` (its own lock, journal and transaction).  Run it in the project
directory with ``DJANGO_SETTINGS_MODULE`` set; prints one JSON line of counts.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.getcwd())

from migtool import api  # noqa: E402


def main() -> int:
    from migtool.core.planner import fully_migrated_rows
    from migtool.django_adapter import schemas
    from migtool.django_adapter.connection import get_connection

    project = api.Project()
    project.setup()
    alias, names = schemas.tenant_schemas()
    done = schemas.up_to_date(get_connection(alias), names, fully_migrated_rows(project.graph))
    applied = 0
    for name in names:
        if name in done:
            continue
        target = f"{alias}:{name}"
        with api.exclusive(project, target, 60):
            preview = api.preview_migrate(project, target)
            if preview.steps:
                api.execute_migrate(project, preview, lambda event: None)
                applied += 1
    print(json.dumps({"schemas": len(names), "up_to_date": len(done), "migrated": applied}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
