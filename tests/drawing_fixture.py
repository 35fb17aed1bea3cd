"""A hand-built project with every shape the graph picture must show, for the
drawing model's tests (tests/core) and the renderers' golden files (tests/cli)::

    accounts.0001_initial                                     (release 1.0, never changes)
        v
    shop.0001 -> 0002 -> ... -> 0006                          (release 1.0: a linear run)
        shop.0006 -> 0007_a, 0007_b -> 0008_merge             (release 2.0+build-1: a merge)
        shop.0008_merge -> 0009_backfill                      (on disk only, irreversible)
    billing.0001_initial -> 0002_x                            (release 2.0+build-1)
    billing.0001_squashed_0002_x (replaces both, originals on disk)
    billing.0003_y, after the squash and shop.0007_a          (on disk only)

The irreversible step's reason holds quotes, ``<``, ``#`` and ``'``, and a
release name holds ``+``, so every renderer's escaping is exercised.
"""

from __future__ import annotations

from strategies import graph, k, release_at

from migtool.core.doctor import MigrationFacts
from migtool.core.drawing import Drawing, draw_graph
from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.planner import plan_rollback
from migtool.core.snapshot import ReleaseSnapshot

SHOP_RUN = [f"shop.000{i}_step{i}" for i in range(1, 7)]
IRREVERSIBLE = "RunSQL (UPDATE \"shop\" SET a = '<b>' # c) has no reverse_sql"


def drawing_fixture() -> tuple[ProjectGraph, list[ReleaseSnapshot], dict[MigrationKey, MigrationFacts]]:
    edges: dict[str, list[str]] = {"accounts.0001_initial": [], SHOP_RUN[0]: ["accounts.0001_initial"]}
    for parent, child in zip(SHOP_RUN, SHOP_RUN[1:], strict=False):
        edges[child] = [parent]
    edges.update(
        {
            "shop.0007_a": [SHOP_RUN[-1]],
            "shop.0007_b": [SHOP_RUN[-1]],
            "shop.0008_merge": ["shop.0007_a", "shop.0007_b"],
            "shop.0009_backfill": ["shop.0008_merge"],
            "billing.0001_initial": [],
            "billing.0002_x": ["billing.0001_initial"],
            "billing.0001_squashed_0002_x": [],
            "billing.0003_y": ["billing.0001_squashed_0002_x", "shop.0007_a"],
        }
    )
    g = graph(edges, replaces={"billing.0001_squashed_0002_x": ["billing.0001_initial", "billing.0002_x"]})
    first = release_at(g, [k("accounts.0001_initial"), *map(k, SHOP_RUN)], "1.0", with_squashes=False)
    second_keys = [
        *(key for key in g.nodes if key.app_label in ("accounts", "shop") and key.name != "0009_backfill"),
        k("billing.0001_initial"),
        k("billing.0002_x"),
    ]
    second = release_at(g, second_keys, "2.0+build-1", with_squashes=False)
    facts = {k("shop.0009_backfill"): MigrationFacts(irreversible=(IRREVERSIBLE,))}
    return g, [second, first], facts


def everything_applied(g: ProjectGraph) -> frozenset[MigrationKey]:
    return g.stands_for(g.nodes)


def draw(release: str | None = None, apps: list[str] | None = None, *, history: bool = False) -> Drawing:
    g, releases, facts = drawing_fixture()
    recorded = everything_applied(g)
    target = {r.release: r for r in releases}.get(release) if release else None
    plan = plan_rollback(g, recorded, target) if target else None
    return draw_graph(g, g.effective(recorded), releases, facts, plan=plan, apps=apps, history=history)
