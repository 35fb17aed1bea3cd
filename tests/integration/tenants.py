"""A django-tenants project (the real package from PyPI) on PostgreSQL, for schema-target tests.

``make_tenants_project(factory, shop, tenants=3)`` builds on ``projects.Project``:
shared apps ``django_tenants``, ``customers`` (the tenant model) and
``contenttypes``; tenant apps ``contenttypes`` and ``shop`` (the test's own
migrations).  It migrates ``public`` with ``migrate_schemas --shared`` and creates
the tenants as django-tenants does (``Client.save()`` creates and migrates the
schema), named ``tenant_1`` … ``tenant_N``.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any

from projects import Project, ProjectFactory

TENANT_MODELS = """
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)


class Domain(DomainMixin):
    pass
"""

SETTINGS = """
SHARED_APPS = ["django_tenants", "customers", "django.contrib.contenttypes"]
TENANT_APPS = ["django.contrib.contenttypes", {tenant_apps}]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
"""

CREATE_TENANTS = """
import django
django.setup()
from customers.models import Client, Domain
for name in {names!r}:
    client = Client(schema_name=name, name=name)
    client.save(verbosity=0)
    Domain.objects.create(domain=name + ".example.com", tenant=client, is_primary=True)
"""


def make_tenants_project(
    factory: ProjectFactory, tenant_apps: dict[str, dict[str, str]], *, tenants: int = 3
) -> Project:
    """A migrated django-tenants project: ``public`` plus ``tenant_1`` … ``tenant_N``."""
    apps = {"customers": {}, **tenant_apps}
    project = factory(apps, backend="postgresql", extra_settings=SETTINGS.format(tenant_apps=_quoted(tenant_apps)))
    (project.root / "customers" / "models.py").write_text(TENANT_MODELS)
    _check(project.manage("makemigrations", "customers", "-v0"))
    _check(project.manage("migrate_schemas", "--shared", "-v0"))
    names = [f"tenant_{i}" for i in range(1, tenants + 1)]
    _check(project.run([sys.executable, "-c", textwrap.dedent(CREATE_TENANTS.format(names=names))]))
    return project


def _quoted(apps: dict[str, Any]) -> str:
    return ", ".join(repr(label) for label in apps)


def _check(result: Any) -> None:
    assert result.ok, result


def schema_rows(project: Project, schema: str) -> set[tuple[str, str]]:
    """``schema``'s own ``django_migrations`` (empty if it has none)."""
    if "django_migrations" not in schema_tables(project, schema):
        return set()
    return {(a, n) for a, n in project.db.rows(f'SELECT app, name FROM "{schema}".django_migrations')}


def schema_tables(project: Project, schema: str) -> set[str]:
    sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
    return {r[0] for r in project.db.rows(sql, (schema,))}


def schema_columns(project: Project, schema: str, table: str) -> set[str]:
    sql = "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
    return {r[0] for r in project.db.rows(sql, (schema, table))}


def journal_runs(project: Project, schema: str) -> list[tuple[Any, ...]]:
    """``schema``'s migtool journal: (id, command, status) per run, oldest first."""
    if "migtool_run" not in schema_tables(project, schema):
        return []
    return project.db.rows(f'SELECT id, command, status FROM "{schema}".migtool_run ORDER BY id')
