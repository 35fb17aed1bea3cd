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
from hypothesis import strategies as st
from strategies import applied_sets, dags, release_at

from migtool.core.graph import ProjectGraph
from migtool.core.planner import plan_rollback
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
    # The core's order over the same graph is the same (the adapter delegates to it).
    assert list(g.effective(frozenset()).django_order) == django_order(graph)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_rollback_reverts_in_the_reverse_of_djangos_replay(data: st.DataObject) -> None:
    """Django renders each reverted migration's state from the applied history
    before it in its replay order; reverting in the reverse of that order keeps
    every such state equal to the database at that moment (a plain reversed
    topological order let SQLite remake a related table from a state that still
    held migrations already reverted)."""
    g = data.draw(dags(max_nodes=14, squashes=False, one_leaf_per_app=True))
    everything = frozenset(g.nodes)
    release = release_at(g, data.draw(applied_sets(g)), "r", with_squashes=False)
    steps = plan_rollback(g, everything, release).steps
    replay = django_order(django_graph(g))
    assert list(steps) == [key for key in reversed(replay) if key in set(steps)]


def test_full_plan_differs_from_a_plain_topological_order() -> None:
    """Not just any valid order: parents are pushed sorted, so the last one is planned first."""
    graph = MigrationGraph()
    for key in [("a", "0001"), ("b", "0001"), ("a", "0002"), ("c", "0001")]:
        graph.add_node(key, key)
    graph.add_dependency(None, ("a", "0002"), ("b", "0001"))
    graph.add_dependency(None, ("a", "0002"), ("a", "0001"))
    graph.add_dependency(None, ("c", "0001"), ("a", "0001"))
    assert full_plan(graph) == django_order(graph) == [("b", "0001"), ("a", "0001"), ("a", "0002"), ("c", "0001")]
