"""Dependencies on replaced names that are gone from disk (issue 10).

Django's loader makes a node for every name a dependency or ``run_before``
mentions; a squash that takes over the name repoints those edges to itself
(``remove_replaced_nodes``).  migtool must resolve them the same way in every
view: the effective graph for any recorded state, and the declared
(squash-free) graph.  Expected graphs below are worked out from Django's
``build_graph`` step by step (6.x order: inner squashes first, squashes in
load order).

In the diagrams ``(gone)`` marks a name no file defines::

    DOCS   documents.0001_squashed  replaces documents.0001_initial, documents.0002_b   (both gone)
           documents.0003_c         depends on documents.0002_b                          (same app)
           mail.0001_squashed       replaces mail.0001_initial (gone), depends on documents.0001_initial
           mail.0002_x              depends on mail.0001_initial, documents.0003_c
"""

from __future__ import annotations

import pytest
from strategies import graph, ks, ordered

from migtool.core.graph import DependencyGraph
from migtool.errors import ConfigurationError

DOCS = graph(
    {
        "documents.0001_squashed": [],
        "documents.0003_c": ["documents.0002_b"],
        "mail.0001_squashed": ["documents.0001_initial"],
        "mail.0002_x": ["mail.0001_initial", "documents.0003_c"],
    },
    replaces={
        "documents.0001_squashed": ["documents.0001_initial", "documents.0002_b"],
        "mail.0001_squashed": ["mail.0001_initial"],
    },
    gone=["documents.0001_initial", "documents.0002_b", "mail.0001_initial"],
)
DOCS_EDGES = {
    "documents.0001_squashed": [],
    "documents.0003_c": ["documents.0001_squashed"],
    "mail.0001_squashed": ["documents.0001_squashed"],
    "mail.0002_x": ["documents.0003_c", "mail.0001_squashed"],
}

A, B = "s.0001_squashed_0002", "s.0001_squashed_0003"

# A and s.0003 deleted after B was written: a dependency on A's name means B.
NESTED_GONE = graph(
    {B: [], "o.0001": [A], "s.0004": ["s.0003"]},
    replaces={B: [A, "s.0003"]},
    gone=[A, "s.0003"],
)

# The originals of A are gone, A and B are on disk.
NESTED_ON_DISK = graph(
    {A: [], B: [], "s.0003": ["s.0002"], "o.0001": ["s.0001"]},
    replaces={A: ["s.0001", "s.0002"], B: [A, "s.0003"]},
    gone=["s.0001", "s.0002"],
)

# django-migrations.md §1.8: two migrations replace one placeholder, and cal depends on it.
TWICE = graph(
    {"bj.0002_a": ["bj.0001_initial"], "bj.0003_b": ["bj.0002_a"], "cal.0001": ["bj.0001_placeholder"]},
    replaces={"bj.0002_a": ["bj.0001_placeholder"], "bj.0003_b": ["bj.0001_placeholder"]},
    gone=["bj.0001_placeholder"],
)

RUN_BEFORE = graph(
    {"s.0001_squashed": [], "o.0001": []},
    replaces={"s.0001_squashed": ["s.0001", "s.0002"]},
    before={"o.0001": ["s.0002"]},
)


def edges(g: DependencyGraph) -> dict[str, list[str]]:
    return {str(key): ordered(parents) for key, parents in sorted(g.parents.items())}


@pytest.mark.parametrize("recorded", [[], ["documents.0001_initial", "documents.0002_b", "mail.0001_initial"]])
def test_same_app_and_cross_app_dependencies_resolve_to_the_squash(recorded):
    """The issue's shape loads in every view, whether nothing or everything is recorded."""
    assert edges(DOCS.effective(ks(*recorded))) == DOCS_EDGES
    assert edges(DOCS.declared) == DOCS_EDGES


def test_closure_and_leaves_follow_the_resolved_edges():
    assert {str(k) for k in DOCS.closure(ks("mail.0002_x"))} == set(DOCS_EDGES)
    assert {app: ordered(v) for app, v in DOCS.effective().leaves().items()} == {
        "documents": ["documents.0003_c"],
        "mail": ["mail.0002_x"],
    }


def test_partly_applied_squash_leaves_the_dependency_dangling_as_in_django():
    """Only some atoms recorded: Django drops the squash and raises NodeNotFoundError
    for the dependency on the gone name; so does migtool, for that database only."""
    with pytest.raises(ConfigurationError, match="depends on documents.0001_initial") as raised:
        DOCS.effective(ks("documents.0001_initial"))
    assert "documents.0001_squashed" in str(raised.value)
    assert raised.value.hint
    assert edges(DOCS.effective()) == DOCS_EDGES  # no database: loads


def test_dependency_on_a_name_nothing_replaces_is_refused():
    with pytest.raises(ConfigurationError, match="p.0001 depends on s.0001, which is not on disk"):
        graph({"p.0001": ["s.0001"]}, gone=["s.0001"])


def test_dependency_on_a_squash_gone_from_disk_resolves_to_the_squash_replacing_it():
    expected = {B: [], "o.0001": [B], "s.0004": [B]}
    assert edges(NESTED_GONE.effective()) == expected
    assert edges(NESTED_GONE.effective(ks(A, "s.0003"))) == expected
    assert edges(NESTED_GONE.declared) == expected


def test_a_name_replaced_only_inside_a_gone_squash_is_refused():
    """s.0001 was replaced by A; A is gone and B names only A, so nothing on disk
    replaces s.0001 (Django: NodeNotFoundError)."""
    with pytest.raises(ConfigurationError, match="p.0001 depends on s.0001"):
        graph({B: [], "p.0001": ["s.0001"]}, replaces={B: [A, "s.0003"]}, gone=[A, "s.0003", "s.0001"])


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        pytest.param([], {B: [], "o.0001": [B]}, id="nothing-recorded-outer-squash"),
        pytest.param(["s.0001", "s.0002", "s.0003"], {B: [], "o.0001": [B]}, id="all-recorded-outer-squash"),
        pytest.param(["s.0001", "s.0002"], {A: [], "o.0001": [A], "s.0003": [A]}, id="inner-complete"),
    ],
)
def test_nested_squashes_on_disk(recorded, expected):
    """Inner squash A takes over the gone names first, then B takes over A."""
    assert edges(NESTED_ON_DISK.effective(ks(*recorded))) == expected


def test_nested_squashes_on_disk_declared_view_uses_the_inner_squash():
    """Without replacements the gone originals of A are spelled A itself."""
    assert edges(NESTED_ON_DISK.declared) == {A: [], B: [], "o.0001": [A], "s.0003": [A]}


def test_nested_inner_squash_partly_applied_is_refused():
    with pytest.raises(ConfigurationError, match="depends on s.0001"):
        NESTED_ON_DISK.effective(ks("s.0001"))


@pytest.mark.parametrize(
    "recorded",
    [[], ["bj.0001_initial", "bj.0001_placeholder"], ["bj.0001_initial", "bj.0001_placeholder", "bj.0002_a"]],
)
def test_name_replaced_twice_resolves_to_the_first_squash_in_load_order(recorded):
    assert edges(TWICE.effective(ks(*recorded)))["cal.0001"] == ["bj.0002_a"]
    assert edges(TWICE.declared)["cal.0001"] == ["bj.0002_a"]


@pytest.mark.parametrize(("app_order", "expected"), [([], "bj.0002_a"), (["x", "bj"], "x.0001_sq")])
def test_name_replaced_in_two_apps_follows_installed_apps_order(app_order, expected):
    """Django loads apps in INSTALLED_APPS order; the first squash takes the name."""
    g = graph(
        {"bj.0002_a": [], "x.0001_sq": [], "cal.0001": ["bj.0001_placeholder"]},
        replaces={"bj.0002_a": ["bj.0001_placeholder"], "x.0001_sq": ["bj.0001_placeholder"]},
        gone=["bj.0001_placeholder"],
        app_order=app_order,
    )
    assert edges(g.effective())["cal.0001"] == [expected]
    assert edges(g.declared)["cal.0001"] == [expected]


def test_run_before_a_gone_name_makes_the_squash_run_after():
    expected = {"o.0001": [], "s.0001_squashed": ["o.0001"]}
    assert edges(RUN_BEFORE.effective()) == expected
    assert edges(RUN_BEFORE.declared) == expected
    assert ordered(RUN_BEFORE.effective().order) == ["o.0001", "s.0001_squashed"]


def test_replaced_node_on_disk_shared_by_two_squashes_goes_to_the_first():
    """Two squashes replace s.0002, which is on disk: the first in load order takes
    over its edges (Django pops it), whatever the hash seed."""
    g = graph(
        {"s.0002": ["s.0001"], "s.0003": ["s.0002"], "s.0002_sq_a": ["s.0001"], "s.0002_sq_b": ["s.0001"]},
        replaces={"s.0002_sq_a": ["s.0002"], "s.0002_sq_b": ["s.0002"]},
    )
    assert edges(g.effective())["s.0003"] == ["s.0002_sq_a"]


def test_cyclic_squash_replacement_is_refused():
    g = graph({"s.0001_x": [], "s.0001_y": []}, replaces={"s.0001_x": ["s.0001_y"], "s.0001_y": ["s.0001_x"]})
    with pytest.raises(ConfigurationError, match="cyclical squash replacement"):
        g.effective()


def test_squash_of_a_released_squash_and_its_gone_originals_belongs_to_that_release():
    """Release r2 was frozen with squash A (its originals gone); the code now has B,
    replacing A's name, A's originals and s.0003 (A and s.0003 deleted).  B stands for
    exactly r2's state, so a rollback to r2 keeps it; a release from before A does
    not contain B, and lies inside it, unreachable."""
    from migtool.core.planner import plan_rollback
    from migtool.core.snapshot import freeze

    at_r2 = graph({A: [], "s.0003": [A]}, replaces={A: ["s.0001", "s.0002"]})
    r2 = freeze(at_r2, "r2", "6.1")
    r1 = freeze(graph({"s.0002": ["s.0001"]}), "r1", "6.1")
    now = graph({B: [], "s.0004": ["s.0003"]}, replaces={B: [A, "s.0001", "s.0002", "s.0003"]}, gone=["s.0003"])
    recorded = ks("s.0001", "s.0002", A, "s.0003", B, "s.0004")
    to_r2 = plan_rollback(now, recorded, r2)
    assert (ordered(to_r2.steps), to_r2.refusals) == (["s.0004"], ())
    to_r1 = plan_rollback(now, recorded, r1)
    assert [r.kind for r in to_r1.refusals] == ["squash-unreachable"]
