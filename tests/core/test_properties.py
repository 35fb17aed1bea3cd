"""Property tests of the pure core on random migration graphs (see ``tests/strategies.py``).

Generated graphs are acyclic by construction, may hold one squash per app
(with its originals still on disk), and applied sets are closed under
ancestors, as a database that ran ``migrate`` has them.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from strategies import ancestors_closed, applied_sets, dags, graph, release_at, release_names, squashes_within

from migtool.core.graph import MigrationKey, ProjectGraph
from migtool.core.release_diff import diff
from migtool.core.snapshot import check_release_name, freeze, parse_snapshot, release_sort_key
from migtool.core.status import database_status

versions = st.sampled_from([None, "4.2", "5.2.1", "6.0"])


def some_keys(g: ProjectGraph) -> st.SearchStrategy[set[MigrationKey]]:
    return st.sets(st.sampled_from(sorted(g.nodes)))


@given(dags(), st.data())
def test_closure_is_ancestor_closed_and_idempotent(g, data):
    seeds = data.draw(some_keys(g), label="seeds")
    closure = g.closure(seeds)
    assert seeds <= closure
    for key in closure:
        node = g.nodes[key]
        assert set(node.parents) <= closure, key
        assert {r for r in node.replaces if r in g} <= closure, key
    assert g.closure(closure) == closure
    needs = {key: (*n.parents, *(r for r in n.replaces if r in g)) for key, n in g.nodes.items()}
    assert closure == ancestors_closed(needs, seeds), "closure holds more than it needs"


@given(dags(), st.data())
def test_topological_order_puts_ancestors_first_and_is_stable(g, data):
    recorded = data.draw(applied_sets(g), label="recorded")
    effective = g.effective(recorded)
    order = effective.topological_order(effective.parents)
    assert sorted(order) == sorted(effective.parents), "every node exactly once (no cycle)"
    position = {key: i for i, key in enumerate(order)}
    for key, parents in effective.parents.items():
        assert all(position[p] < position[key] for p in parents), key

    wanted = data.draw(st.sets(st.sampled_from(order)), label="wanted")
    filtered = effective.topological_order(wanted)
    assert set(filtered) == wanted
    for i, key in enumerate(filtered):
        assert not (ancestors_closed(effective.parents, [key]) - {key}) & set(filtered[i + 1 :]), key
    assert effective.topological_order(sorted(wanted, reverse=True)) == filtered
    assert g.effective(recorded).topological_order(wanted) == filtered


@given(st.one_of(st.just(graph({})), dags(one_leaf_per_app=True)), release_names, versions)
def test_freeze_json_round_trip(g, name, version):
    """Every file freeze writes parses back to the same snapshot, the first release of a
    project without migrations yet (``"apps": {}``) included."""
    snapshot = freeze(g, name, version)
    text = snapshot.to_json()
    parsed = parse_snapshot(text, name, f"releases/{name}.json")
    assert parsed == snapshot
    assert parsed.to_json() == text
    assert freeze(ProjectGraph(reversed(list(g.nodes.values()))), name, version).to_json() == text


@given(dags(one_leaf_per_app=True), st.data())
def test_diff_with_itself_has_no_changes(g, data):
    snapshot = release_at(g, data.draw(applied_sets(g)), "1.0", with_squashes=data.draw(st.booleans()))
    changes = diff(snapshot, snapshot)
    assert not changes.has_changes
    assert changes.apps == ()


@given(dags(one_leaf_per_app=True), st.data())
def test_diff_added_and_removed_are_set_differences(g, data):
    """Squash-free set differences: a new squash whose replaced migrations old
    covers is a re-spelling (squashed), and what a new squash replaces is not removed."""
    old = release_at(g, data.draw(applied_sets(g), label="old"), "1.0", with_squashes=data.draw(st.booleans()))
    new = release_at(g, data.draw(applied_sets(g), label="new"), "2.0", with_squashes=data.draw(st.booleans()))
    changes = diff(old, new)

    def listed(field: str) -> set[MigrationKey]:
        return {MigrationKey(a.app, m) for a in changes.apps for m in getattr(a, field)}

    old_keys = old.keys()
    old_covered = old_keys | {r for rs in old.replaces().values() for r in rs}
    respelled = {s for s, rs in new.replaces().items() if s not in old_keys and set(rs) <= old_covered}
    replaced_by_new = {r for rs in new.replaces().values() for r in rs}
    squashed = {MigrationKey(a.app, m) for a in changes.apps for m, _ in a.squashed}
    assert squashed == respelled
    assert listed("added") == new.keys() - old.keys() - respelled
    assert listed("removed") == old.keys() - new.keys() - replaced_by_new
    assert listed("edited") == set(), "same files on both sides"
    assert changes.has_changes == bool(listed("added") or listed("removed"))


@given(dags(one_leaf_per_app=True), st.data())
def test_database_at_a_release_matches_it(g, data):
    """Rows = the release's migrations, as applied one by one, plus any squash rows
    Django's check_replacements may have written: the database is at the release,
    whether it was frozen before or after the squashes were written."""
    applied = data.draw(applied_sets(g), label="applied")
    release = release_at(g, applied, "r", with_squashes=data.draw(st.booleans(), label="with_squashes"))
    squash_rows = data.draw(
        st.sets(st.sampled_from(sorted(squashes_within(g, applied)) or [None])), label="squash_rows"
    )
    recorded = Counter(applied | (squash_rows - {None}))
    assert database_status(g, recorded, [release], "default").matching_releases == ("r",)


@given(dags(one_leaf_per_app=True), st.data())
def test_database_matches_a_release_only_at_its_state(g, data):
    release_state = data.draw(applied_sets(g), label="release_state")
    database_state = data.draw(applied_sets(g), label="database_state")
    release = release_at(g, release_state, "r", with_squashes=data.draw(st.booleans()))
    matches = database_status(g, Counter(database_state), [release], "default").matching_releases
    assert matches == (("r",) if database_state == release_state else ())


@given(dags(), st.data())
def test_applied_is_the_recorded_state_in_the_effective_graph(g, data):
    recorded = data.draw(applied_sets(g), label="recorded")
    applied = g.applied(recorded)
    assert applied <= set(g.effective(recorded).parents)
    assert g.atoms(applied) == recorded


@given(release_names)
def test_valid_release_names_are_accepted_and_ordered_numerically(name):
    assert check_release_name(name) == name
    assert release_sort_key(f"{name}.9") < release_sort_key(f"{name}.10")
