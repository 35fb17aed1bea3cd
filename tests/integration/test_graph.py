"""``migtool graph`` on a copy of the example project: the plan it highlights is
the rollback's own plan in execution order (compared with ``rollback --dry-run``
on a real database), irreversible facts come from the real migrations, it is
read-only, and bad input is one ``Error:`` line with a hint and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from projects import Project, ProjectFactory


def drawing(project: Project, *args: str) -> dict:
    result = project.migtool("graph", *args, "--format", "json")
    assert result.code == 0, result
    return json.loads(result.stdout)


def test_graph_highlights_the_rollback_plan_in_execution_order(make_project: ProjectFactory) -> None:
    project = make_project.example()
    assert project.migtool("migrate-safe").code == 0
    before = project.db.applied()

    planned = project.migtool("rollback", "1.1.0", "--dry-run", "--format", "json")
    steps = [step["migration"] for step in json.loads(planned.stdout)["steps"]]
    picture = drawing(project, "1.1.0", "--database", "default")
    assert picture["plan"] == steps and len(steps) == 3
    boxes = {box["id"]: box for box in picture["boxes"]}
    # The plan runs over the squash's originals: its step is drawn on the squash.
    assert steps.index("billing.0002_invoice_paid") + 1 in boxes["billing.0001_squashed_0002_invoice_paid"]["plan"]
    assert boxes["catalog.0005_backfill_uppercase_sku"]["irreversible"] == [
        "RunPython uppercase_skus has no reverse_code"
    ]
    assert any("catalog.0005_backfill_uppercase_sku is irreversible" in note for note in picture["notes"])
    assert project.db.applied() == before  # read-only

    # Without --database it plans for "everything on disk applied": the same here.
    assert drawing(project, "1.1.0")["plan"] == steps


def test_graph_needs_no_database_and_refuses_bad_input(make_project: ProjectFactory) -> None:
    project = make_project.example()
    text = project.migtool("graph", "1.0.0")
    assert text.code == 0 and text.stdout.startswith("Rollback to 1.0.0: 8 step(s)"), text
    assert "0004_merge_product_price_stock  [rollback step #3; merge" in text.stdout
    assert not Path(project.db.name).exists()  # SQLite: no database file was created

    for args, needle in (
        (("graph", "nope"), "Unknown release 'nope'"),
        (("graph", "--app", "nosuch"), "No migrations on disk for app(s) nosuch."),
    ):
        result = project.migtool(*args)
        assert result.code == 2, result
        assert f"Error: {needle}" in result.stderr and "Hint:" in result.stderr and "Traceback" not in result.stderr
