"""Property tests of the rollback planner on random migration graphs.

A database has applied an ancestor-closed set of migrations; a release was
frozen at an ancestor-closed subset of it (before or after the squashes were
written).  Whatever the shape, the plan must unapply exactly what is outside
the release, dependents first, and never leave a migration applied without
its dependencies.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import applied_sets, dags, release_at

from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.planner import RollbackPlan, matches_release, plan_rollback


def rolled_back(g: ProjectGraph, recorded: frozenset[MigrationKey], plan: RollbackPlan) -> frozenset[MigrationKey]:
    """The rows after running ``plan``: Django unrecords each step and every name it replaces."""
    return recorded - g.stands_for(plan.steps) - set(plan.stale_rows)


@st.composite
def scenarios(draw: st.DrawFn):
    g = draw(dags(one_leaf_per_app=True))
    release_state = draw(applied_sets(g), label="release_state")
    database_state = release_state | draw(applied_sets(g), label="more")  # both ancestor-closed
    release = release_at(g, release_state, "r", with_squashes=draw(st.booleans(), label="with_squashes"))
    return g, release_state, frozenset(database_state), release


@given(scenarios())
def test_plan_is_exactly_applied_minus_release(scenario):
    g, release_state, recorded, release = scenario
    plan = plan_rollback(g, recorded, release)
    assert not plan.refusals
    after = rolled_back(g, recorded, plan)
    assert g.atoms(g.applied(after)) == release_state  # what stays is exactly the release
    assert matches_release(g, after, release)
    assert plan_rollback(g, after, release).steps == ()  # planning again: nothing left


@given(scenarios())
def test_plan_unapplies_dependents_before_their_dependencies(scenario):
    g, _, recorded, release = scenario
    steps = plan_rollback(g, recorded, release).steps
    for position, step in enumerate(steps):
        later = set(steps[position + 1 :])
        # Nothing unapplied later may depend on this step (closure: parents and squashed originals).
        assert not any(step in g.closure([other]) - {other} for other in later), (step, steps)


@given(scenarios())
def test_plan_never_leaves_a_migration_without_its_dependencies(scenario):
    g, _, recorded, release = scenario
    after = rolled_back(g, recorded, plan_rollback(g, recorded, release))
    applied = g.applied(after)
    effective = g.effective(after)
    assert all(parent in applied for key in applied for parent in effective.parents[key])


@given(scenarios())
def test_plan_is_deterministic(scenario):
    g, _, recorded, release = scenario
    assert plan_rollback(g, recorded, release) == plan_rollback(g, frozenset(sorted(recorded)), release)
