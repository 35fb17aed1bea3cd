"""``database_status``: applied state, row hygiene and matching releases.

Arrows point from a migration to the migrations that depend on it::

    SQUASHED   o.0001_x ───────────┐
                                   v
               s.0001_a ──> s.0002_b ──> s.0003_c
               └─ s.0001_squashed_0002 ─┘        (the squash depends on o.0001_x)

    PATCH      bj.0001 ──> bj.0002_mainline_x ──> bj.0003_add_y
               (0003_add_y replaces bj.0002_patch_add_y, which exists only on a patch branch)
"""

from __future__ import annotations

from collections import Counter

import pytest
from strategies import graph, k

from migtool.core.snapshot import freeze, parse_snapshot, resolve_legacy
from migtool.core.status import AppStatus, database_status

SQ = "0001_squashed_0002"
BEFORE_SQUASH_EDGES = {"s.0002_b": ["s.0001_a", "o.0001_x"], "s.0003_c": ["s.0002_b"]}
BEFORE_SQUASH = graph(BEFORE_SQUASH_EDGES)
SQUASHED = graph({**BEFORE_SQUASH_EDGES, f"s.{SQ}": ["o.0001_x"]}, replaces={f"s.{SQ}": ["s.0001_a", "s.0002_b"]})
ORIGINALS_DELETED = graph(
    {f"s.{SQ}": ["o.0001_x"], "s.0003_c": [f"s.{SQ}"]}, replaces={f"s.{SQ}": ["s.0001_a", "s.0002_b"]}
)
PATCH = graph(
    {"bj.0002_mainline_x": ["bj.0001"], "bj.0003_add_y": ["bj.0002_mainline_x"]},
    replaces={"bj.0003_add_y": ["bj.0002_patch_add_y"]},
)
EVERYTHING = ["o.0001_x", "s.0001_a", "s.0002_b", "s.0003_c"]


def rows(*specs: str) -> Counter:
    """``django_migrations`` rows; a spec given twice is a duplicate row."""
    return Counter(k(s) for s in specs)


def per_app(g, recorded, releases=()) -> dict[str, AppStatus]:
    return {a.app: a for a in database_status(g, recorded, releases, "default").apps}


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        pytest.param(
            rows(),
            {"o": AppStatus("o", (), ("0001_x",), (), ()), "s": AppStatus("s", (), (SQ, "0003_c"), (), ())},
            id="fresh",
        ),
        pytest.param(
            rows("o.0001_x", "s.0001_a"),
            {
                "o": AppStatus("o", ("0001_x",), (), (), ()),
                "s": AppStatus("s", ("0001_a",), ("0002_b", "0003_c"), (), ()),
            },
            id="squash-partially-applied",
        ),
        pytest.param(
            rows("o.0001_x", "s.0001_a", "s.0002_b"),
            {"o": AppStatus("o", ("0001_x",), (), (), ()), "s": AppStatus("s", (SQ,), ("0003_c",), (), ())},
            id="squash-applied-without-its-row",
        ),
    ],
)
def test_applied_and_unapplied_per_app(recorded, expected):
    """Applied state follows Django's squash rules (SQUASHED)."""
    assert per_app(SQUASHED, recorded) == expected


def test_ghost_rows():
    """Rows for migrations on no disk are ghosts, also in an app with no migrations left."""
    status = per_app(SQUASHED, rows("o.0001_x", "s.0009_gone", "x.0001_gone"))
    assert status["s"].ghosts == ("0009_gone",)
    assert status["x"] == AppStatus("x", (), (), ("0001_gone",), ())
    assert status["o"].ghosts == ()


def test_rows_named_by_a_squash_are_not_ghosts():
    """PATCH: the patch branch's row is what bj.0003_add_y replaces, not a ghost."""
    status = per_app(PATCH, rows("bj.0001", "bj.0002_patch_add_y"))
    assert status["bj"] == AppStatus("bj", ("0001", "0003_add_y"), ("0002_mainline_x",), (), ())


def test_duplicate_rows():
    status = per_app(SQUASHED, rows("o.0001_x", "s.0001_a", "s.0001_a", "x.0001_gone", "x.0001_gone"))
    assert status["s"].duplicates == ("0001_a",)
    assert status["x"].duplicates == ("0001_gone",)
    assert status["o"].duplicates == ()


def test_status_names_the_database():
    assert database_status(SQUASHED, rows(), [], "replica").database == "replica"


def matching(g, recorded, releases) -> tuple[str, ...]:
    return database_status(g, recorded, releases, "default").matching_releases


R1 = freeze(graph({"s.0001_a": [], "o.0001_x": []}), "1.0", None)
R2 = freeze(BEFORE_SQUASH, "2.0", None)


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        pytest.param(rows("o.0001_x", "s.0001_a"), ("1.0",), id="at-1.0"),
        pytest.param(rows(*EVERYTHING), ("2.0",), id="at-2.0"),
        pytest.param(rows("o.0001_x", "s.0001_a", "s.0002_b"), (), id="between"),
        pytest.param(rows(), (), id="fresh"),
    ],
)
def test_matching_release(recorded, expected):
    """BEFORE_SQUASH (SQUASHED without the squash): a database matches a release exactly or not at all."""
    assert matching(BEFORE_SQUASH, recorded, [R2, R1]) == expected


@pytest.mark.parametrize(
    ("code", "recorded"),
    [
        pytest.param(SQUASHED, rows(*EVERYTHING, f"s.{SQ}"), id="squash-in-effect-with-row"),
        pytest.param(SQUASHED, rows(*EVERYTHING), id="squash-in-effect-without-row"),
        pytest.param(ORIGINALS_DELETED, rows(*EVERYTHING), id="originals-deleted"),
    ],
)
def test_release_frozen_before_a_squash_matches_after_it(code, recorded):
    """Release 2.0 was frozen from BEFORE_SQUASH; the code now has the squash
    (SQUASHED, or ORIGINALS_DELETED: s.0001_squashed_0002 ──> s.0003_c)."""
    assert matching(code, recorded, [R2]) == ("2.0",)


def test_release_frozen_after_a_squash_matches_a_database_migrated_before_it():
    after = freeze(ORIGINALS_DELETED, "3.0", None)
    assert matching(ORIGINALS_DELETED, rows(*EVERYTHING), [after, R2]) == ("3.0", "2.0")


def test_resolved_legacy_release_matches():
    legacy = parse_snapshot('{"s": "0002_b"}', "1.5", "releases/1.5.json")
    resolved = resolve_legacy(legacy, SQUASHED)
    assert matching(SQUASHED, rows("o.0001_x", "s.0001_a", "s.0002_b"), [resolved]) == ("1.5",)
    assert matching(SQUASHED, rows(*EVERYTHING), [resolved]) == ()


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        pytest.param(
            rows("bj.0001", "bj.0002_mainline_x", "bj.0002_patch_add_y", "bj.0003_add_y"), ("main",), id="mainline-db"
        ),
        pytest.param(rows("bj.0001", "bj.0002_patch_add_y"), (), id="patch-branch-db"),
    ],
)
def test_patch_branch_matching(recorded, expected):
    """PATCH: a patch-branch database lacks bj.0002_mainline_x, so it is not at the mainline release."""
    assert matching(PATCH, recorded, [freeze(PATCH, "main", None)]) == expected
