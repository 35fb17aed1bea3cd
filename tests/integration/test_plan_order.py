"""``full_plan``: migtool's one-pass replay order equals Django's own.

Django's ``MigrationExecutor.migration_plan(leaf_nodes(), clean_start=True)``
concatenates ``graph.forwards_plan(leaf)`` for every leaf, skipping what is
already planned; that is the order ``_migrate_all_backwards`` replays, and the
order migtool's pre-flight states must be built in.  The tests call Django's
method itself.  Needs Django, no database.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from hypothesis import given, settings
from strategies import dags

from migtool.core.graph import ProjectGraph
from migtool.django_adapter.plans import full_plan


def django_graph(g: ProjectGraph) -> MigrationGraph:
    graph = MigrationGraph()
    for key in g.nodes:
        graph.add_node(tuple(key), tuple(key))
    for key, node in g.nodes.items():
        for parent in node.parents:
            graph.add_dependency(None, tuple(key), tuple(parent))
    return graph


def django_order(graph: MigrationGraph) -> list[tuple[str, str]]:
    """Django's own ``MigrationExecutor.migration_plan(leaf_nodes(), clean_start=True)``.

    Run over a stand-in loader holding ``graph``; every node's "migration" is its key.
    """
    loader = SimpleNamespace(graph=graph, applied_migrations={}, replace_migrations=False)
    plan = MigrationExecutor.migration_plan(SimpleNamespace(loader=loader), graph.leaf_nodes(), clean_start=True)
    assert all(not backwards for _, backwards in plan)
    return [key for key, _ in plan]


@settings(max_examples=300, deadline=None)
@given(dags(max_nodes=14, squashes=False))
def test_full_plan_is_djangos_order(g: ProjectGraph) -> None:
    graph = django_graph(g)
    assert full_plan(graph) == django_order(graph)


def test_full_plan_differs_from_a_plain_topological_order() -> None:
    """Not just any valid order: parents are pushed sorted, so the last one is planned first."""
    graph = MigrationGraph()
    for key in [("a", "0001"), ("b", "0001"), ("a", "0002"), ("c", "0001")]:
        graph.add_node(key, key)
    graph.add_dependency(None, ("a", "0002"), ("b", "0001"))
    graph.add_dependency(None, ("a", "0002"), ("a", "0001"))
    graph.add_dependency(None, ("c", "0001"), ("a", "0001"))
    assert full_plan(graph) == django_order(graph) == [("b", "0001"), ("a", "0001"), ("a", "0002"), ("c", "0001")]
