"""Smoke tests of the integration harness itself (not of migtool).

They prove, on every usable backend, that a generated project migrates with
Django and that the DB-API inspection and database cleanup work, so a
failing migtool integration test can be trusted to be about migtool.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from projects import Project, database_exists, migration

ITEM = (
    "migrations.CreateModel('Item', [('id', models.BigAutoField(primary_key=True)), "
    "('name', models.CharField(max_length=50))])"
)
ORDER = (
    "migrations.CreateModel('Order', [('id', models.BigAutoField(primary_key=True)), "
    "('item', models.ForeignKey('shop.Item', on_delete=models.CASCADE))])"
)
PRICE = "migrations.AddField('Item', 'price', models.IntegerField(default=0))"


def two_apps() -> dict[str, dict[str, str]]:
    """shop: 0001_a <- 0002_b;  billing: 0001_a depends on shop 0001_a."""
    return {
        "shop": {
            "0001_a": migration(ops=[ITEM], initial=True),
            "0002_b": migration(deps=[("shop", "0001_a")], ops=[PRICE]),
        },
        "billing": {
            "0001_a": migration(deps=[("shop", "0001_a")], ops=[ORDER], initial=True),
        },
    }


@pytest.mark.backends
def test_migrate_two_apps(make_project: Callable[..., Project], backend: str) -> None:
    project = make_project(two_apps())
    assert project.db.backend == backend
    assert project.db.applied() == set()

    r = project.manage("migrate", "shop", "0001_a")
    assert r.code == 0, r
    assert project.db.applied() == {("shop", "0001_a")}
    assert project.db.columns("shop_item") == {"id", "name"}

    r = project.manage("migrate")
    assert r.code == 0, r
    assert project.db.applied() == {("shop", "0001_a"), ("shop", "0002_b"), ("billing", "0001_a")}
    assert {"django_migrations", "shop_item", "billing_order"} <= project.db.tables()
    assert project.db.columns("shop_item") == {"id", "name", "price"}
    assert project.db.migration_row_count("shop", "0002_b") == 1

    project.db.execute("INSERT INTO shop_item (name, price) VALUES (%s, %s)", ("pen", 3))
    assert project.db.rows("SELECT name, price FROM shop_item") == [("pen", 3)]

    # Changing code between steps: a new migration is picked up at once.
    project.write_migration(
        "shop",
        "0003_c",
        migration(deps=[("shop", "0002_b")], ops=["migrations.RemoveField('Item', 'price')"]),
    )
    r = project.manage("migrate", "shop")
    assert r.code == 0, r
    assert project.db.columns("shop_item") == {"id", "name"}

    r = project.manage("migrate", "shop", "0002_b")
    assert r.code == 0, r
    project.remove_migration("shop", "0003_c")
    r = project.manage("showmigrations", "shop")
    assert r.code == 0, r
    assert "0003_c" not in r.stdout
    assert "[X] 0002_b" in r.stdout


@pytest.mark.backends
def test_fixture_drops_database(request: pytest.FixtureRequest, backend: str) -> None:
    """The real ``make_project`` teardown removes the database it created.

    Our finalizer is registered before the fixture is set up, so it runs
    after the fixture's own teardown (finalizers run last-in, first-out).
    """
    created: list[str] = []

    def check_dropped() -> None:
        for name in created:
            if backend == "sqlite":
                assert not Path(name).exists(), name
            else:
                assert not database_exists(backend, name), f"{name} left behind"

    request.addfinalizer(check_dropped)
    make_project = request.getfixturevalue("make_project")
    first, second = make_project(two_apps()), make_project({"solo": {}})
    created += [first.db.name, second.db.name]
    assert first.root != second.root and first.db.name != second.db.name
    assert second.manage("migrate").code == 0
    if backend != "sqlite":
        assert database_exists(backend, first.db.name)


def test_unmarked_tests_use_sqlite(make_project: Callable[..., Project]) -> None:
    project = make_project({"solo": {}})
    assert project.db.backend == "sqlite"
    r = project.manage("check")
    assert r.code == 0, r
