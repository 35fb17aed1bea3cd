"""``migtool.core.stored``: which stored sources join the graph, and the store's doctor findings.

The disk is v1 (``s.0001_a -> s.0002_b``); the database also recorded v2's
migrations, whose files are gone.
"""

from __future__ import annotations

from strategies import graph, k, ks, names

from migtool.core.stored import (
    StoredMigration,
    classify,
    ghosts,
    missing_refusal,
    recorded_nodes,
    stored_drift,
    uncaptured,
)

DISK = {k("s.0001_a"): (), k("s.0002_b"): ()}


def stored(spec: str, deps: tuple[str, ...] = (), replaces: tuple[str, ...] = (), run_before: tuple[str, ...] = ()):
    return StoredMigration(k(spec), tuple(map(k, deps)), tuple(map(k, replaces)), tuple(map(k, run_before)))


def test_ghosts_are_rows_no_file_accounts_for() -> None:
    disk = {**DISK, k("s.0001_squashed_0003"): (k("s.0001_a"), k("s.0003_gone"))}
    recorded = ks("s.0001_a", "s.0003_gone", "s.0004_new", "o.0001_x")
    assert names(ghosts(disk, recorded)) == {"s.0004_new", "o.0001_x"}


def test_loaded_stored_migrations_are_injected_and_unloaded_ghosts_are_missing() -> None:
    recorded = ks("s.0001_a", "s.0002_b", "s.0003_c", "o.0001_x", "s.0009_lost")
    loaded = {
        k("s.0003_c"): stored("s.0003_c", ("s.0002_b",)),
        k("o.0001_x"): stored("o.0001_x", ("s.0003_c", "auth.__first__")),
    }
    result = classify(DISK, {"auth"}, recorded, loaded, {})
    assert names(result.inject) == {"s.0003_c", "o.0001_x"}
    assert result.refusals == ()
    assert names(result.missing) == {"s.0009_lost"}


def test_every_unusable_stored_migration_is_refused_at_once() -> None:
    recorded = ks("s.0001_a", "s.0002_b", "s.0003_c", "s.0004_d", "s.0001_squashed_0002_b", "s.0005_e")
    loaded = {
        k("s.0001_squashed_0002_b"): stored("s.0001_squashed_0002_b", replaces=("s.0001_a", "s.0002_b")),
        k("s.0004_d"): stored("s.0004_d", ("s.0003_c",)),  # 0003_c did not load
        k("s.0005_e"): stored("s.0005_e", ("s.0004_d",)),  # refused in turn
    }
    broken = {k("s.0003_c"): "ModuleNotFoundError: No module named 's.fields'"}
    result = classify(DISK, set(), recorded, loaded, broken)
    assert result.inject == frozenset()
    kinds = {(r.kind, str(r.keys[0])) for r in result.refusals}
    assert kinds == {
        ("stored-source-broken", "s.0003_c"),
        ("stored-squash-on-disk", "s.0001_squashed_0002_b"),
        ("stored-source-unplaceable", "s.0004_d"),
        ("stored-source-unplaceable", "s.0005_e"),
    }
    assert "No module named 's.fields'" in next(r.message for r in result.refusals if r.keys[0] == k("s.0003_c"))
    assert result.missing == frozenset()


def test_a_stored_squash_with_a_replaced_migration_off_disk_is_injected_and_covers_it() -> None:
    recorded = ks("s.0001_a", "s.0002_b", "s.0003_c", "s.0001_squashed_0003_c")
    squash = stored("s.0001_squashed_0003_c", replaces=("s.0001_a", "s.0002_b", "s.0003_c"))
    result = classify(DISK, set(), recorded, {squash.key: squash}, {})
    assert names(result.inject) == {"s.0001_squashed_0003_c"}
    assert result.missing == frozenset()  # 0003_c is covered by the squash


def test_run_before_a_migration_that_exists_nowhere_is_refused() -> None:
    loaded = {k("s.0003_c"): stored("s.0003_c", ("s.0002_b",), run_before=("o.0001_gone",))}
    result = classify(DISK, set(), ks("s.0003_c"), loaded, {})
    assert [r.kind for r in result.refusals] == ["stored-source-unplaceable"]


def test_missing_refusal_names_every_ghost() -> None:
    assert missing_refusal([]) is None
    refusal = missing_refusal(ks("s.0009_b", "s.0008_a"))
    assert refusal is not None and refusal.keys == (k("s.0008_a"), k("s.0009_b"))
    assert "s.0008_a, s.0009_b are applied but neither on disk nor stored" in refusal.message


def test_stored_drift_is_a_file_matching_no_stored_source() -> None:
    g = graph({"s.0001_a": [], "s.0002_b": ["s.0001_a"]}, checksums={"s.0001_a": "a" * 64, "s.0002_b": "b" * 64})
    variants = {k("s.0001_a"): ("a" * 64,), k("s.0002_b"): ("c" * 64, "d" * 64), k("s.0003_gone"): ("e" * 64,)}
    findings = stored_drift(g, variants)
    assert [(f.severity, f.code, f.subject) for f in findings] == [("error", "drift-edited", "s.0002_b")]
    assert stored_drift(g, variants, ks("s.0001_a")) == []


def test_uncaptured_lists_applied_migrations_without_source_per_app() -> None:
    g = graph(
        {"s.0001_a": [], "s.0002_b": ["s.0001_a"], "o.0001_x": []},
        replaces={"s.0001_squashed_0002_b": ["s.0001_a", "s.0002_b"]},
    )
    recorded = ks("s.0001_a", "s.0002_b", "o.0001_x")
    assert names(recorded_nodes(g, recorded)) == {"s.0001_a", "s.0002_b", "s.0001_squashed_0002_b", "o.0001_x"}
    findings = uncaptured(g, recorded, ks("s.0001_a", "o.0001_x"))
    assert [(f.code, f.subject) for f in findings] == [("no-stored-source", "s")]
    assert "2 applied migration(s) of 's'" in findings[0].message
