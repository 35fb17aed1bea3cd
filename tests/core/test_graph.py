"""``ProjectGraph`` and ``DependencyGraph`` on hand-built graphs.

In the diagrams an arrow points from a migration to the migrations that
depend on it (``x ──> y``: ``y`` lists ``x`` as a dependency).  A squash is
drawn under the migrations it replaces.  The shared graphs::

    SQUASHED   o.0001_x ───────────┐
                                   v
               s.0001_a ──> s.0002_b ──> s.0003_c
               └─ s.0001_squashed_0002 ─┘       (the squash depends on o.0001_x)

    NESTED     s.0001 ──> s.0002 ──> s.0003 ──> s.0004
               └ 0001_squashed_0002 ┘                (A)
               └──── 0001_squashed_0003 ────┘        (B: replaces A and 0003, Django 6.0+)

    PATCH      bj.0001 ──> bj.0002_mainline_x ──> bj.0003_add_y
               (0003_add_y replaces bj.0002_patch_add_y, which exists only on a patch branch)
"""

from __future__ import annotations

import pytest
from strategies import graph, k, ks, names, ordered

from migtool.core.graph import DependencyGraph, MigrationKey, expand_squashes

SQUASHED = graph(
    {
        "s.0002_b": ["s.0001_a", "o.0001_x"],
        "s.0003_c": ["s.0002_b"],
        "s.0001_squashed_0002": ["o.0001_x"],
    },
    replaces={"s.0001_squashed_0002": ["s.0001_a", "s.0002_b"]},
)

NESTED = graph(
    {
        "s.0002": ["s.0001"],
        "s.0003": ["s.0002"],
        "s.0004": ["s.0003"],
        "s.0001_squashed_0002": [],
        "s.0001_squashed_0003": [],
    },
    replaces={
        "s.0001_squashed_0002": ["s.0001", "s.0002"],
        "s.0001_squashed_0003": ["s.0001_squashed_0002", "s.0003"],
    },
)

PATCH = graph(
    {"bj.0002_mainline_x": ["bj.0001"], "bj.0003_add_y": ["bj.0002_mainline_x"]},
    replaces={"bj.0003_add_y": ["bj.0002_patch_add_y"]},
)

A, B = "s.0001_squashed_0002", "s.0001_squashed_0003"
SQ = "s.0001_squashed_0002"


def edges(effective: DependencyGraph) -> dict[str, list[str]]:
    return {str(key): ordered(parents) for key, parents in sorted(effective.parents.items())}


@pytest.mark.parametrize(
    ("g", "start", "expected"),
    [
        pytest.param(
            graph({"a.0002": ["a.0001"], "a.0003": ["a.0002"], "b.0001": ["a.0002"]}),
            ["b.0001"],
            {"b.0001", "a.0002", "a.0001"},
            id="ancestors-across-apps",
        ),
        pytest.param(SQUASHED, [SQ], {SQ, "o.0001_x", "s.0001_a", "s.0002_b"}, id="squash-pulls-in-originals"),
        pytest.param(NESTED, [B], {B, A, "s.0001", "s.0002", "s.0003"}, id="nested-squash"),
        pytest.param(
            PATCH, ["bj.0003_add_y"], {"bj.0001", "bj.0002_mainline_x", "bj.0003_add_y"}, id="replaces-missing"
        ),
        pytest.param(SQUASHED, ["s.0009_gone"], {"s.0009_gone"}, id="unknown-key-kept"),
        pytest.param(SQUASHED, [], set(), id="empty"),
    ],
)
def test_closure(g, start, expected):
    """Ancestors plus, for a squash, the replaced migrations on disk (SQUASHED, NESTED,
    PATCH in the module docstring); never descendants or siblings:

        a.0001 ──> a.0002 ──> a.0003
                     └──────> b.0001
    """
    assert names(g.closure(k(s) for s in start)) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (["s.0001_a"], {"s.0001_a", "s.0002_b", "s.0003_c"}),
        (["o.0001_x"], {"o.0001_x", "s.0002_b", "s.0003_c", SQ}),
        (["s.0003_c"], {"s.0003_c"}),
        (["s.0009_gone"], set()),
    ],
)
def test_descendants(start, expected):
    """Declared dependents only, across apps; unknown keys are dropped.

    o.0001_x ───────────┐
                        v
    s.0001_a ──> s.0002_b ──> s.0003_c        o.0001_x ──> s.0001_squashed_0002
    """
    assert names(SQUASHED.declared.descendants(k(s) for s in start)) == expected


@pytest.mark.parametrize(
    ("g", "keys", "expected"),
    [
        pytest.param(NESTED, ["s.0004"], {"s.0004"}, id="plain"),
        pytest.param(NESTED, [A], {"s.0001", "s.0002"}, id="squash"),
        pytest.param(NESTED, [B], {"s.0001", "s.0002", "s.0003"}, id="nested"),
        pytest.param(NESTED, [B, A, "s.0001", "s.0004"], {"s.0001", "s.0002", "s.0003", "s.0004"}, id="both-spellings"),
        pytest.param(PATCH, ["bj.0001", "bj.0003_add_y"], {"bj.0001", "bj.0002_patch_add_y"}, id="replaces-missing"),
    ],
)
def test_atoms(g, keys, expected):
    """Squashes are expanded recursively down to migrations that stand for themselves (NESTED, PATCH)."""
    assert names(g.atoms(k(s) for s in keys)) == expected


def test_expand_squashes_matches_atoms_for_any_spelling():
    """The squash spelling and the original spelling of one state have equal atoms."""
    replaces = {k(A): ks("s.0001", "s.0002"), k(B): (k(A), k("s.0003"))}
    assert expand_squashes(ks(B, "s.0004"), replaces) == expand_squashes(
        ks("s.0001", "s.0002", "s.0003", "s.0004"), replaces
    )


@pytest.mark.parametrize(
    ("g", "recorded", "expected"),
    [
        pytest.param(SQUASHED, [], {SQ}, id="none-recorded"),
        pytest.param(SQUASHED, ["s.0001_a", "s.0002_b"], {SQ}, id="all-recorded"),
        pytest.param(SQUASHED, ["s.0001_a"], set(), id="some-recorded"),
        pytest.param(SQUASHED, ["s.0001_a", SQ], set(), id="some-recorded-plus-squash-row"),
        pytest.param(NESTED, [], {B}, id="nested-none"),
        pytest.param(NESTED, ["s.0001", "s.0002", "s.0003"], {B}, id="nested-all"),
        pytest.param(NESTED, ["s.0001", "s.0002"], {A}, id="nested-inner-complete"),
        pytest.param(NESTED, ["s.0001"], set(), id="nested-inner-partial"),
        pytest.param(PATCH, ["bj.0001"], {"bj.0003_add_y"}, id="patch-not-recorded"),
        pytest.param(PATCH, ["bj.0002_patch_add_y"], {"bj.0003_add_y"}, id="patch-recorded"),
    ],
)
def test_squashes_in_effect(g, recorded, expected):
    """Django's rule: a squash is used when all or none of its atoms are recorded;
    a squash inside a squash in effect is absorbed (NESTED)."""
    assert names(g.squashes_in_effect(ks(*recorded))) == expected


@pytest.mark.parametrize(
    ("g", "recorded", "expected"),
    [
        pytest.param(SQUASHED, [], {"o.0001_x": [], SQ: ["o.0001_x"], "s.0003_c": [SQ]}, id="squash-in-effect"),
        pytest.param(
            SQUASHED,
            ["o.0001_x", "s.0001_a", "s.0002_b"],
            {"o.0001_x": [], SQ: ["o.0001_x"], "s.0003_c": [SQ]},
            id="squash-fully-recorded",
        ),
        pytest.param(
            SQUASHED,
            ["s.0001_a"],
            {"o.0001_x": [], "s.0001_a": [], "s.0002_b": ["o.0001_x", "s.0001_a"], "s.0003_c": ["s.0002_b"]},
            id="partially-applied-squash-removed",
        ),
        pytest.param(NESTED, [], {B: [], "s.0004": [B]}, id="nested-outer-only"),
        pytest.param(
            NESTED, ["s.0001", "s.0002"], {A: [], "s.0003": [A], "s.0004": ["s.0003"]}, id="nested-inner-only"
        ),
        pytest.param(
            PATCH,
            [],
            {"bj.0001": [], "bj.0002_mainline_x": ["bj.0001"], "bj.0003_add_y": ["bj.0002_mainline_x"]},
            id="replaces-missing",
        ),
    ],
)
def test_effective(g, recorded, expected):
    """Replaced nodes are hidden and their edges repointed to the squash in effect
    (which inherits its members' outside dependencies); a partially applied
    squash disappears and the originals keep their own edges."""
    assert edges(g.effective(ks(*recorded))) == expected


SQUASH_AS_PARENT = graph(
    {"s.0002": ["s.0001"], "s.0003": ["s.0002"], "s.0001_squashed_0003": [], "s.0004": ["s.0001_squashed_0003"]},
    replaces={"s.0001_squashed_0003": ["s.0001", "s.0002", "s.0003"]},
)


def test_children_of_a_dropped_squash_are_repointed_to_the_latest_original():
    """
        s.0001 ──> s.0002 ──> s.0003
        └─── s.0001_squashed_0003 ───┘ ──> s.0004

    With only s.0001 recorded the squash is dropped; s.0004 must then follow s.0003
    (Django's remove_replacement_node), not point at a node that is not there.
    """
    effective = SQUASH_AS_PARENT.effective(ks("s.0001"))
    assert edges(effective)["s.0004"] == ["s.0003"]
    assert names(effective.leaves()["s"]) == {"s.0004"}
    assert ordered(effective.topological_order(effective.parents)) == ["s.0001", "s.0002", "s.0003", "s.0004"]


@pytest.mark.parametrize(
    ("g", "recorded", "expected"),
    [
        pytest.param(SQUASHED, ["o.0001_x", "s.0001_a", "s.0002_b"], {"o.0001_x", SQ}, id="all-atoms-no-squash-row"),
        pytest.param(
            SQUASHED,
            ["o.0001_x", "s.0001_a", "s.0002_b", SQ, "s.0003_c"],
            {"o.0001_x", SQ, "s.0003_c"},
            id="everything",
        ),
        pytest.param(SQUASHED, ["o.0001_x", SQ], {"o.0001_x"}, id="own-row-not-enough"),
        pytest.param(SQUASHED, ["o.0001_x", "s.0001_a", SQ], {"o.0001_x", "s.0001_a"}, id="partial-squash-row-ignored"),
        pytest.param(SQUASHED, ["o.0001_x", "x.0001_gone"], {"o.0001_x"}, id="ghost-row-excluded"),
        pytest.param(NESTED, ["s.0001", "s.0002", "s.0003"], {B}, id="nested-complete"),
        pytest.param(NESTED, ["s.0001", "s.0002"], {A}, id="nested-inner-complete"),
        pytest.param(PATCH, ["bj.0001", "bj.0002_patch_add_y"], {"bj.0001", "bj.0003_add_y"}, id="patch-branch-db"),
        pytest.param(PATCH, ["bj.0001"], {"bj.0001"}, id="mainline-db"),
    ],
)
def test_applied(g, recorded, expected):
    """A squash is applied when all its atoms are recorded, whatever its own row says;
    rows for migrations not on disk never count."""
    assert names(g.applied(ks(*recorded))) == expected


MERGED = graph({"s.0002_x": ["s.0001"], "s.0002_y": ["s.0001"], "s.0003_merge": ["s.0002_x", "s.0002_y"]})
CONFLICT = graph({"s.0002_x": ["s.0001"], "s.0002_y": ["s.0001"]})
CROSS_APP = graph({"a.0002": ["a.0001"], "b.0001": ["a.0002"]})


@pytest.mark.parametrize(
    ("g", "expected"),
    [
        pytest.param(MERGED, {"s": ["s.0003_merge"]}, id="merge-one-leaf"),
        pytest.param(CONFLICT, {"s": ["s.0002_x", "s.0002_y"]}, id="conflict-two-leaves"),
        pytest.param(CROSS_APP, {"a": ["a.0002"], "b": ["b.0001"]}, id="cross-app-child-does-not-count"),
        pytest.param(SQUASHED, {"o": ["o.0001_x"], "s": ["s.0003_c"]}, id="squash"),
    ],
)
def test_leaves(g, expected):
    """
    MERGED:    s.0001 ──> s.0002_x ──> s.0003_merge      CONFLICT: the same without 0003_merge
                  └─────> s.0002_y ──────┘
    CROSS_APP: a.0001 ──> a.0002 ──> b.0001               (a.0002 is still a's leaf)
    """
    assert {app: ordered(keys) for app, keys in g.effective().leaves().items()} == expected


DIAMOND = {
    "b.0001": ["a.0001"],
    "a.0002_y": ["a.0001"],
    "a.0002_x": ["b.0001"],
    "a.0003_merge": ["a.0002_x", "a.0002_y"],
}


def test_topological_order_parents_first_ties_by_key():
    """
        a.0001 ──> b.0001 ──> a.0002_x ──> a.0003_merge
           └────────────────> a.0002_y ──────┘

    a.0002_x sorts before a.0002_y but must wait for b.0001.
    """
    effective = graph(DIAMOND).effective()
    assert ordered(effective.topological_order(effective.parents)) == [
        "a.0001",
        "a.0002_y",
        "b.0001",
        "a.0002_x",
        "a.0003_merge",
    ]


def test_topological_order_is_deterministic():
    """The same graph built in another order gives the same order, call after call."""
    forward = graph(DIAMOND).effective()
    backward = graph(dict(reversed(DIAMOND.items()))).effective()
    wanted = list(forward.parents)
    first = forward.topological_order(wanted)
    assert forward.topological_order(reversed(wanted)) == first
    assert backward.topological_order(wanted) == first


def test_topological_order_respects_edges_through_unwanted_nodes():
    """
        z.0001 ──> m.0001 ──> a.0001

    Asked only for a.0001 and z.0001, z.0001 still comes first (by key it would not).
    """
    effective = graph({"m.0001": ["z.0001"], "a.0001": ["m.0001"]}).effective()
    assert ordered(effective.topological_order(ks("a.0001", "z.0001"))) == ["z.0001", "a.0001"]


def test_topological_order_of_effective_graph_uses_the_squash():
    """In SQUASHED the squash stands for s.0001_a and s.0002_b, between o.0001_x and s.0003_c."""
    effective = SQUASHED.effective()
    assert ordered(effective.topological_order(effective.parents)) == ["o.0001_x", SQ, "s.0003_c"]


def test_graph_lists_apps_and_membership():
    assert SQUASHED.apps == ("o", "s")
    assert k("s.0001_a") in SQUASHED
    assert MigrationKey("s", "0009_gone") not in SQUASHED
    assert str(k("s.0001_a")) == "s.0001_a"


@pytest.mark.parametrize(
    ("g", "squash", "stands_for", "on_disk"),
    [
        pytest.param(NESTED, B, {B, A, "s.0001", "s.0002", "s.0003"}, {A, "s.0001", "s.0002", "s.0003"}, id="nested"),
        pytest.param(PATCH, "bj.0003_add_y", {"bj.0003_add_y", "bj.0002_patch_add_y"}, set(), id="replaces-missing"),
        pytest.param(SQUASHED, "s.0003_c", {"s.0003_c"}, set(), id="not-a-squash"),
    ],
)
def test_stands_for_and_replaced_on_disk(g, squash, stands_for, on_disk):
    """Every name a squash stands for (the rows Django deletes when unapplying it),
    and those of them that are files on disk (NESTED, PATCH)."""
    assert names(g.stands_for([k(squash)])) == stands_for
    assert names(g.replaced_on_disk(k(squash))) == on_disk
