"""``migtool.core.drawing``: what the graph picture shows, on the hand-built graph
of ``tests/drawing_fixture.py`` (its docstring draws it): merges, a squash, a
linear run, an irreversible step, a cross-app edge and three releases."""

from __future__ import annotations

import pytest
from drawing_fixture import IRREVERSIBLE, SHOP_RUN, draw, drawing_fixture, everything_applied
from strategies import graph, k

from migtool.core.drawing import Drawing, Link, draw_diff, draw_graph
from migtool.core.planner import plan_rollback
from migtool.core.release_diff import diff
from migtool.core.snapshot import freeze
from migtool.errors import InputError


def by_id(drawing: Drawing) -> dict[str, object]:
    return {b.id: b for b in drawing.boxes}


def test_linear_runs_collapse_and_everything_special_stays_visible() -> None:
    boxes = by_id(draw(history=True))
    run = boxes["shop.0001_step1..0006_step6"]
    assert run.names == tuple(s.split(".")[1] for s in SHOP_RUN)  # type: ignore[attr-defined]
    assert run.release == "1.0"  # type: ignore[attr-defined]
    assert boxes["shop.0008_merge"].merge  # type: ignore[attr-defined]
    assert boxes["shop.0009_backfill"].irreversible == (IRREVERSIBLE,)  # type: ignore[attr-defined]
    assert boxes["shop.0009_backfill"].release is None  # type: ignore[attr-defined]
    squash = boxes["billing.0001_squashed_0002_x"]
    assert squash.replaces == (k("billing.0001_initial"), k("billing.0002_x"))  # type: ignore[attr-defined]
    assert squash.release == "2.0+build-1"  # type: ignore[attr-defined]  (frozen before the squash, still a member)
    # The originals are hidden behind the squash Django plans with.
    assert "billing.0001_initial" not in boxes and "billing.0002_x" not in boxes


def test_links_follow_the_effective_graph_through_runs() -> None:
    links = set(draw(history=True).links)
    assert Link("shop.0001_step1..0006_step6", "shop.0007_a") in links
    assert Link("shop.0001_step1..0006_step6", "shop.0007_b") in links
    assert Link("shop.0007_a", "billing.0003_y") in links and Link("shop.0007_a", "billing.0003_y").cross_app
    assert Link("billing.0001_squashed_0002_x", "billing.0003_y") in links
    # accounts is not shown (nothing in it changes), so its edge is not drawn.
    assert not any(link.parent.startswith("accounts.") for link in links)


def test_history_up_to_the_baseline_is_one_box_per_app() -> None:
    # Migrations exist in no release: the baseline is the newest release.
    drawing = draw()
    assert [(b.id, b.up_to) for b in drawing.boxes] == [
        ("billing.0001_squashed_0002_x", None),  # one migration: drawn as itself
        ("billing.0003_y", None),
        ("shop.0001_step1..0008_merge", "2.0+build-1"),
        ("shop.0009_backfill", None),
    ]
    assert by_id(drawing)["shop.0001_step1..0008_merge"].names[-1] == "0008_merge"  # type: ignore[attr-defined]
    assert set(drawing.links) == {
        Link("billing.0001_squashed_0002_x", "billing.0003_y"),
        Link("shop.0001_step1..0008_merge", "billing.0003_y"),
        Link("shop.0001_step1..0008_merge", "shop.0009_backfill"),
    }
    # Everything released: the baseline is the release before the newest.
    g, releases, facts = drawing_fixture()
    newest = freeze(g, "3.0", None)
    released = draw_graph(g, g.effective(), [*releases, newest], facts)
    assert [b.id for b in released.boxes] == [b.id for b in drawing.boxes]
    assert {b.release for b in released.boxes if b.up_to is None} == {"2.0+build-1", "3.0"}
    # One release only, and everything in it: nothing is earlier, every app is shown.
    alone = draw_graph(g, g.effective(), [newest], facts)
    assert alone.apps == ("accounts", "billing", "shop") and not any(b.up_to for b in alone.boxes)


def test_only_the_apps_that_change_are_shown_unless_asked() -> None:
    drawing = draw()
    assert drawing.apps == ("billing", "shop")
    assert drawing.hidden_apps == ("accounts",)
    assert draw(apps=["accounts"]).apps == ("accounts",)
    with pytest.raises(InputError, match="nosuch"):
        draw(apps=["nosuch"])


def test_a_run_of_two_is_not_collapsed_a_run_of_three_is() -> None:
    g = graph({"a.0001": [], "a.0002": ["a.0001"], "a.0003": ["a.0002"]})
    drawing = draw_graph(g, g.effective(), [], {})
    assert [b.id for b in drawing.boxes] == ["a.0001..0003"]
    short = graph({"a.0001": [], "a.0002": ["a.0001"]})
    assert [b.id for b in draw_graph(short, short.effective(), [], {}).boxes] == ["a.0001", "a.0002"]


def test_plan_is_numbered_in_execution_order_and_its_apps_are_shown() -> None:
    g, releases, _ = drawing_fixture()
    drawing = draw("1.0")
    plan = plan_rollback(g, everything_applied(g), releases[1])
    assert drawing.plan == plan.steps
    numbered = {n: b.id for b in drawing.boxes for n in b.plan}
    assert sorted(numbered) == list(range(1, len(plan.steps) + 1))
    assert [numbered[n] for n in sorted(numbered)] == [str(key) for key in plan.steps]
    assert drawing.apps == ("billing", "shop")
    assert any("shop.0009_backfill is irreversible" in note for note in drawing.notes)
    # Nothing in the run is part of the plan: it stays collapsed.
    assert "shop.0001_step1..0006_step6" in by_id(drawing)


def test_a_plan_over_a_squashs_originals_is_shown_on_the_squash() -> None:
    g = graph(
        {"q.0001_a": [], "q.0002_b": ["q.0001_a"], "q.0001_squashed_0002_b": []},
        replaces={"q.0001_squashed_0002_b": ["q.0001_a", "q.0002_b"]},
    )
    inside = freeze(graph({"q.0001_a": []}), "inside", None)
    recorded = g.stands_for(g.nodes)
    plan = plan_rollback(g, recorded, inside)
    assert plan.steps == (k("q.0002_b"),)
    drawing = draw_graph(g, g.effective(recorded), [inside], {}, plan=plan)
    assert [(b.id, b.plan) for b in drawing.boxes] == [("q.0001_squashed_0002_b", (1,))]


def test_the_drawing_is_deterministic() -> None:
    assert draw("1.0") == draw("1.0")


def test_diff_draws_only_what_changed() -> None:
    g, releases, _ = drawing_fixture()
    changes = diff(releases[0], freeze(g, "(disk)", None))
    drawing = draw_diff(changes, g.effective())
    assert {b.id: b.change for b in drawing.boxes} == {  # the squash re-spells release 1: not drawn
        "billing.0003_y": "added",
        "shop.0009_backfill": "added",
    }
    assert changes.apps[0].squashed == (("0001_squashed_0002_x", 2),)
    assert drawing.links == ()
    unconnected = draw_diff(changes)
    assert unconnected.links == () and len(unconnected.boxes) == 2
