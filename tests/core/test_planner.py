"""Rollback planning on hand-built graphs (no Django, no database)."""

from __future__ import annotations

import pytest

from migtool.core.graph import MigrationKey, MigrationNode, ProjectGraph
from migtool.core.planner import code_not_at_release, matches_release, plan_rollback
from migtool.core.snapshot import freeze


def key(text: str) -> MigrationKey:
    app, name = text.split(".")
    return MigrationKey(app, name)


def build(edges: dict[str, list[str]], replaces: dict[str, list[str]] | None = None) -> ProjectGraph:
    """``edges`` maps 'app.name' to its parents; ``replaces`` maps squashes to what they replace."""
    replaces = replaces or {}
    return ProjectGraph(
        MigrationNode(key(k), tuple(key(p) for p in ps), tuple(key(r) for r in replaces.get(k, ())))
        for k, ps in edges.items()
    )


def keys(*texts: str) -> frozenset[MigrationKey]:
    return frozenset(key(t) for t in texts)


def names(steps: tuple[MigrationKey, ...]) -> list[str]:
    return [str(k) for k in steps]


MERGE = {
    "shop.0001_a": [],
    "shop.0002_b": ["shop.0001_a"],
    "shop.0002_c": ["shop.0001_a"],
    "shop.0003_d": ["shop.0002_b", "shop.0002_c"],
    "other.0001_x": ["shop.0002_c"],
    "other.0002_y": ["other.0001_x"],
}


def release_of(edges: dict[str, list[str]], name: str = "r", replaces: dict[str, list[str]] | None = None):
    return freeze(build(edges, replaces), name, None)


def test_merge_rollback_unapplies_the_parallel_branch_and_its_dependents():
    """
    shop: 0001_a -> 0002_b --+--> 0003_d      release = {0001_a, 0002_b}
                 -> 0002_c --+
    other: 0001_x (needs shop.0002_c) -> 0002_y
    """
    graph = build(MERGE)
    release = release_of({"shop.0001_a": [], "shop.0002_b": ["shop.0001_a"]})
    plan = plan_rollback(graph, frozenset(graph.nodes), release)
    assert not plan.refusals
    assert set(names(plan.steps)) == {"shop.0003_d", "shop.0002_c", "other.0001_x", "other.0002_y"}
    order = names(plan.steps)
    assert order.index("other.0002_y") < order.index("other.0001_x") < order.index("shop.0002_c")
    assert order.index("shop.0003_d") < order.index("shop.0002_c")


def test_plan_is_deterministic_and_idempotent():
    graph = build(MERGE)
    release = release_of({"shop.0001_a": []})
    first = plan_rollback(graph, frozenset(graph.nodes), release)
    assert first == plan_rollback(graph, frozenset(graph.nodes), release)
    after = frozenset(graph.nodes) - set(first.steps)
    assert plan_rollback(graph, after, release).steps == ()


def test_app_added_after_the_release_is_unapplied_completely():
    edges = {**MERGE, "newapp.0001_initial": [], "newapp.0002_more": ["newapp.0001_initial"]}
    graph = build(edges)
    plan = plan_rollback(graph, frozenset(graph.nodes), release_of(MERGE))
    assert names(plan.steps) == ["newapp.0002_more", "newapp.0001_initial"]


def test_release_with_unapplied_migrations_is_refused():
    graph = build(MERGE)
    recorded = keys("shop.0001_a")
    plan = plan_rollback(graph, recorded, release_of(MERGE))
    assert [r.kind for r in plan.refusals] == ["release-not-applied"]
    assert "shop.0002_b" in plan.refusals[0].message


def test_app_in_release_but_gone_from_code_is_reported_not_touched():
    graph = build({"shop.0001_a": []})
    release = release_of({"shop.0001_a": [], "gone.0001_initial": []})
    plan = plan_rollback(graph, keys("shop.0001_a", "gone.0001_initial"), release)
    assert plan.steps == () and not plan.refusals
    assert "'gone'" in plan.warnings[0]


SQUASHED = {
    "q.0001": [],
    "q.0002": ["q.0001"],
    "q.0003": ["q.0002"],
    "q.0001_squashed_0003": [],
    "q.0004": ["q.0001_squashed_0003"],
}
SQUASH = {"q.0001_squashed_0003": ["q.0001", "q.0002", "q.0003"]}


def test_release_before_a_squash_plans_over_the_originals():
    graph = build(SQUASHED, SQUASH)
    recorded = keys("q.0001", "q.0002", "q.0003", "q.0001_squashed_0003", "q.0004")
    release = release_of({"q.0001": [], "q.0002": ["q.0001"]})
    plan = plan_rollback(graph, recorded, release)
    assert not plan.refusals
    assert plan.use_originals
    assert names(plan.steps) == ["q.0004", "q.0003"]
    assert names(plan.stale_rows) == ["q.0001_squashed_0003"]


def test_release_that_spells_the_squash_unapplies_it_whole():
    graph = build(SQUASHED, SQUASH)
    recorded = keys("q.0001", "q.0002", "q.0003", "q.0001_squashed_0003", "q.0004")
    release = release_of({k: v for k, v in SQUASHED.items() if k != "q.0004"}, replaces=SQUASH)
    plan = plan_rollback(graph, recorded, release)
    assert names(plan.steps) == ["q.0004"]
    assert not plan.use_originals and plan.stale_rows == ()


def test_release_inside_a_squash_without_originals_is_unreachable():
    graph = build({"q.0001_squashed_0003": [], "q.0004": ["q.0001_squashed_0003"]}, SQUASH)
    recorded = keys("q.0001", "q.0002", "q.0003", "q.0001_squashed_0003", "q.0004")
    plan = plan_rollback(graph, recorded, release_of({"q.0001": [], "q.0002": ["q.0001"]}))
    assert [r.kind for r in plan.refusals] == ["squash-unreachable"]
    assert "q.0001_squashed_0003" in plan.refusals[0].message
    assert plan.steps == ()


def test_unapplying_one_of_two_migrations_sharing_a_placeholder_is_refused():
    """Two migrations replace one placeholder (django-migrations.md §1.8): Django counts both
    applied while it is recorded, so one cannot be unapplied while the other stays."""
    edges = {"bj.0001": [], "bj.0002_a": ["bj.0001"], "bj.0003_b": ["bj.0002_a"]}
    replaces = {"bj.0002_a": ["bj.0001_placeholder"], "bj.0003_b": ["bj.0001_placeholder"]}
    graph = build(edges, replaces)
    recorded = keys("bj.0001", "bj.0002_a", "bj.0003_b", "bj.0001_placeholder")
    release = release_of({"bj.0001": [], "bj.0002_a": ["bj.0001"]}, replaces={"bj.0002_a": ["bj.0001_placeholder"]})
    plan = plan_rollback(graph, recorded, release)
    assert names(plan.steps) == ["bj.0003_b"]
    assert [r.kind for r in plan.refusals] == ["shared-replaces"]
    assert "bj.0003_b and bj.0002_a both replace bj.0001_placeholder" in plan.refusals[0].message


def test_hand_edited_release_that_breaks_dependencies_is_refused():
    graph = build(MERGE)
    release = release_of(MERGE)
    broken = type(release)(
        release="broken",
        apps={
            app: type(snap)(snap.leaves, tuple(m for m in snap.migrations if m != "0002_c")) if app == "shop" else snap
            for app, snap in release.apps.items()
        },
    )
    plan = plan_rollback(graph, frozenset(graph.nodes), broken)
    assert "would-break-dependencies" in [r.kind for r in plan.refusals]


@pytest.mark.parametrize("recorded_extra", [(), ("shop.0009_ghost",)])
def test_ghost_rows_are_never_planned(recorded_extra):
    graph = build(MERGE)
    plan = plan_rollback(graph, frozenset(graph.nodes) | keys(*recorded_extra), release_of(MERGE))
    assert plan.steps == () and not plan.refusals


def test_release_members_missing_from_code_and_database_refuse_the_plan():
    """Release r has shop.0002_b and app ``late``; the code (rolled back and downgraded) has
    only shop.0001_a, recorded.  r is not reached: the plan is refused naming both, and the
    database matches no release r.  A recorded member (a ghost row) or one a squash replaces
    is not missing."""
    release = release_of({"shop.0001_a": [], "shop.0002_b": ["shop.0001_a"], "late.0001_x": ["shop.0001_a"]})
    old_code = build({"shop.0001_a": []})
    plan = plan_rollback(old_code, keys("shop.0001_a"), release)
    [refusal] = [r for r in plan.refusals if r.kind == "release-not-on-disk"]
    assert names(refusal.keys) == ["late.0001_x", "shop.0002_b"]
    assert refusal.message.startswith("The code on disk is not at release r: 2 of its migration(s)")
    assert not matches_release(old_code, keys("shop.0001_a"), release)

    recorded = keys("shop.0001_a", "shop.0002_b", "late.0001_x")  # old code, database still at r
    assert code_not_at_release(old_code, recorded, release) is None
    squashed = build({"shop.0001_squashed": []}, {"shop.0001_squashed": ["shop.0001_a", "shop.0002_b"]})
    assert (
        code_not_at_release(squashed, frozenset(), release_of({"shop.0001_a": [], "shop.0002_b": ["shop.0001_a"]}))
        is None
    )


def test_apps_a_release_did_not_freeze_are_left_alone_and_named():
    from dataclasses import replace

    edges = {**MERGE, "auth.0001_initial": [], "auth.0002_more": ["auth.0001_initial"]}
    graph = build(edges)
    release = replace(release_of({"shop.0001_a": []}), external=("auth",), unreadable={"other": "why"})
    plan = plan_rollback(graph, frozenset(graph.nodes), release)
    assert set(names(plan.steps)) == {"shop.0003_d", "shop.0002_b", "shop.0002_c"}
    assert [r.kind for r in plan.refusals] == ["would-break-dependencies"]  # other.0001_x needs shop.0002_c
    assert any("outside the repository: auth; rollback leaves them alone" in w for w in plan.warnings)
    assert any("could not freeze app 'other' (why)" in w for w in plan.warnings)
