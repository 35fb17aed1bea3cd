"""``migtool.core.doctor``: every check on hand-built graphs, snapshots and rows.

Graphs are written with ``strategies.graph`` (keys ``"app.name"``); releases
are frozen from a graph with ``core.snapshot.freeze``, an earlier release from
``restrict(graph, keys)`` (the code on disk at an earlier commit).  Findings
are compared as ``(severity, code, subject)`` triples; messages only where
they carry the point of the check (the exact dependency edge, the release
boundary, what a migration was renamed to).

Shapes used below (arrows point from a migration to its dependents)::

    LINEAR     o.0001_x ──────────┐
                                  v
               s.0001_a ──> s.0002_b ──> s.0003_c

    SQUASHED   LINEAR plus s.0001_squashed_0002 (replaces s.0001_a, s.0002_b; depends on o.0001_x),
               originals still on disk, s.0003_c depending on the squash

    PATCH      bj.0001 ──> bj.0002_mainline_x ──> bj.0003_add_y
               (0003_add_y replaces bj.0002_patch_add_y, which exists only on a patch branch)
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import applied_sets, dags, graph, k, restrict

from migtool.core.doctor import (
    ERROR,
    INFO,
    SEVERITY_ORDER,
    WARNING,
    Finding,
    MigrationFacts,
    RunFact,
    conflicting_leaves,
    diagnose,
    drift,
    interrupted_runs,
    irreversible_since_releases,
    migration_facts,
    partial_squashes_on_disk,
    recorded_state,
    suspicious_replaces,
    unreachable_releases,
)
from migtool.core.graph import ProjectGraph
from migtool.core.origins import Distribution, Ownership, check_policy
from migtool.core.snapshot import AppSnapshot, ReleaseSnapshot, freeze
from migtool.errors import ConfigurationError

SQ = "s.0001_squashed_0002"


def digest(text: str) -> str:
    """A stable, distinct sha256 per text: the checksum of a migration file with these bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


def sums(*specs: str) -> dict[str, str]:
    """Checksums for ``specs``, each file's bytes being its own name."""
    return {spec: digest(spec) for spec in specs}


LINEAR_EDGES = {"o.0001_x": [], "s.0002_b": ["s.0001_a", "o.0001_x"], "s.0003_c": ["s.0002_b"]}
LINEAR = graph(LINEAR_EDGES, checksums=sums("o.0001_x", "s.0001_a", "s.0002_b", "s.0003_c"))
SQUASHED = graph(
    {**LINEAR_EDGES, SQ: ["o.0001_x"], "s.0003_c": [SQ]},
    replaces={SQ: ["s.0001_a", "s.0002_b"]},
    checksums=sums("o.0001_x", "s.0001_a", "s.0002_b", "s.0003_c", SQ),
)
PATCH = graph(
    {"bj.0002_mainline_x": ["bj.0001"], "bj.0003_add_y": ["bj.0002_mainline_x"]},
    replaces={"bj.0003_add_y": ["bj.0002_patch_add_y"]},
)
IRREVERSIBLE = MigrationFacts(irreversible=("RunPython forwards has no reverse_code",))


def rows(*specs: str) -> Counter:
    """``django_migrations`` rows; a spec given twice is a duplicate row."""
    return Counter(k(s) for s in specs)


def triples(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.severity, f.code, f.subject) for f in findings]


def release(g: ProjectGraph, name: str, *keep: str) -> ReleaseSnapshot:
    """Freeze ``g`` as release ``name``; with ``keep``, only that part of it (an earlier commit)."""
    return freeze(restrict(g, {k(s) for s in keep}) if keep else g, name, "5.2")


def edges(findings: list[Finding]) -> set[tuple[str, str]]:
    """``(migration, missing dependency)`` of each inconsistent-history finding, read from its message."""
    found = set()
    for f in findings:
        if f.code == "inconsistent-history":
            match = re.fullmatch(r"(\S+) is applied but its dependency (\S+) is not\.", f.message)
            assert match, f.message
            assert match[1] == f.subject
            found.add((match[1], match[2]))
    return found


# --------------------------------------------------------------------------- a clean project


def test_clean_project_yields_no_findings():
    """A squash in transition (originals on disk), frozen, fully migrated the way Django
    records it (every original and the squash row), reversible, journal clean: nothing."""
    everything = rows("o.0001_x", "s.0001_a", "s.0002_b", SQ, "s.0003_c")
    facts = {key: MigrationFacts() for key in SQUASHED.nodes}
    runs = [RunFact(1, "migrate-safe", "succeeded", "2026-01-01T00:00:00"), RunFact(2, "rollback", "restored", "x")]
    older = release(SQUASHED, "1.0", "o.0001_x", "s.0001_a")
    assert diagnose(SQUASHED, [older, release(SQUASHED, "2.0")], facts, everything, runs) == []
    assert diagnose(SQUASHED, [older, release(SQUASHED, "2.0")], facts) == []
    assert diagnose(graph(), [], {}, Counter()) == []


# --------------------------------------------------------------------------- conflicting leaves


def test_conflicting_leaves_name_the_app_the_leaves_and_the_merge():
    g = graph({"s.0002_b": ["s.0001_a"], "s.0002_c": ["s.0001_a"]})
    (finding,) = conflicting_leaves(g)
    assert (finding.severity, finding.code, finding.subject) == (ERROR, "conflicting-leaves", "s")
    assert "0002_b, 0002_c" in finding.message
    assert finding.fix == "python manage.py makemigrations --merge s"


@pytest.mark.parametrize(
    "g",
    [
        pytest.param(
            graph({"s.0002_b": ["s.0001_a"], "s.0002_c": ["s.0001_a"], "s.0003_m": ["s.0002_b", "s.0002_c"]}),
            id="merged",
        ),
        pytest.param(graph({"s.0002_b": ["s.0001_a"], "o.0002_c": ["s.0001_a"]}), id="leaves-in-other-apps"),
        pytest.param(SQUASHED, id="squash-with-originals-on-disk"),
    ],
)
def test_no_conflict(g):
    assert conflicting_leaves(g) == []


def test_conflicts_in_several_apps_are_reported_per_app_sorted():
    g = graph({"z.0002_b": ["z.0001_a"], "z.0002_c": ["z.0001_a"], "a.0002_b": ["a.0001_a"], "a.0002_c": ["a.0001_a"]})
    assert triples(diagnose(g, [], {})) == [(ERROR, "conflicting-leaves", "a"), (ERROR, "conflicting-leaves", "z")]


# --------------------------------------------------------------------------- replaces


def test_replaces_naming_migrations_on_no_disk():
    """The patch-branch trick (django-migrations.md §1.7)."""
    (finding,) = suspicious_replaces(PATCH)
    assert (finding.severity, finding.code, finding.subject) == (WARNING, "replaces-missing", "bj.0003_add_y")
    assert "bj.0002_patch_add_y" in finding.message


def test_several_migrations_replacing_the_same_one():
    """§1.8: both record a row for the placeholder, so django_migrations gets duplicates."""
    g = graph(
        {"bj.0002_a": ["bj.0001"], "bj.0003_b": ["bj.0002_a"]},
        replaces={"bj.0002_a": ["bj.0001_placeholder"], "bj.0003_b": ["bj.0001_placeholder"]},
    )
    findings = suspicious_replaces(g)
    assert sorted(triples(findings)) == [
        (ERROR, "replaced-twice", "bj.0001_placeholder"),
        (WARNING, "replaces-missing", "bj.0002_a"),
        (WARNING, "replaces-missing", "bj.0003_b"),
    ]
    twice = next(f for f in findings if f.code == "replaced-twice")
    assert "bj.0002_a" in twice.message and "bj.0003_b" in twice.message


def test_overlapping_squashes_on_disk():
    g = graph(
        {"s.0002_b": ["s.0001_a"], "s.0003_c": ["s.0002_b"], "s.0001_squashed_0002": [], "s.0002_squashed_0003": []},
        replaces={"s.0001_squashed_0002": ["s.0001_a", "s.0002_b"], "s.0002_squashed_0003": ["s.0002_b", "s.0003_c"]},
    )
    assert triples(suspicious_replaces(g)) == [(ERROR, "replaced-twice", "s.0002_b")]


def test_squash_with_every_original_on_disk_is_not_suspicious():
    assert suspicious_replaces(SQUASHED) == []
    assert partial_squashes_on_disk(SQUASHED) == []


# --------------------------------------------------------------------------- squashes partly on disk


def test_squash_partly_on_disk():
    g = graph({SQ: [], "s.0001_a": [], "s.0003_c": [SQ]}, replaces={SQ: ["s.0001_a", "s.0002_b"]})
    (finding,) = partial_squashes_on_disk(g)
    assert (finding.severity, finding.code, finding.subject) == (WARNING, "squash-partly-on-disk", SQ)
    assert "1 of its 2" in finding.message and "s.0002_b" in finding.message
    # Reported once, as partly on disk, not also as naming missing migrations.
    assert suspicious_replaces(g) == []
    assert triples(diagnose(g, [], {})) == [(WARNING, "squash-partly-on-disk", SQ)]


def test_squash_with_no_original_on_disk_is_not_partly_on_disk():
    g = graph({SQ: [], "s.0003_c": [SQ]}, replaces={SQ: ["s.0001_a", "s.0002_b"]})
    assert partial_squashes_on_disk(g) == []
    assert triples(suspicious_replaces(g)) == [(WARNING, "replaces-missing", SQ)]


# --------------------------------------------------------------------------- facts about operations


def test_non_atomic_and_transaction_hostile_migrations():
    facts = {
        k("s.0003_c"): MigrationFacts(needs_no_transaction=("RunSQL (VACUUM) uses CONCURRENTLY/VACUUM",)),
        k("s.0002_b"): MigrationFacts(
            non_atomic=True,
            needs_no_transaction=(
                "AddIndexConcurrently must run outside a transaction",
                "RunSQL (CREATE INDEX CONCURRENTLY i ON t (c)) uses CONCURRENTLY/VACUUM",
            ),
        ),
        k("s.0001_a"): IRREVERSIBLE,  # irreversibility is judged against releases, not here
        k("o.0001_x"): MigrationFacts(),
    }
    findings = migration_facts(facts)
    assert sorted(triples(findings)) == [
        (INFO, "non-atomic", "s.0002_b"),
        (WARNING, "no-transaction", "s.0002_b"),
        (WARNING, "no-transaction", "s.0002_b"),
        (WARNING, "no-transaction", "s.0003_c"),
    ]
    reasons = [f.message for f in findings if f.code == "no-transaction" and f.subject == "s.0002_b"]
    assert any("AddIndexConcurrently" in m for m in reasons)
    assert any("CREATE INDEX CONCURRENTLY" in m for m in reasons)


# --------------------------------------------------------------------------- irreversible after a release


CHAIN = graph({"s.0002_b": ["s.0001_a"], "s.0003_c": ["s.0002_b"], "s.0004_d": ["s.0003_c"]})


def test_irreversible_migrations_per_release_boundary():
    """Between two releases: INFO (an old rollback); after the newest: WARNING (the next deploy's).
    Releases are ordered as versions, so 1.10 is newer than 1.9."""
    releases = [release(CHAIN, "1.10", "s.0001_a", "s.0002_b"), release(CHAIN, "1.9", "s.0001_a")]
    facts = {k("s.0001_a"): IRREVERSIBLE, k("s.0002_b"): IRREVERSIBLE, k("s.0004_d"): IRREVERSIBLE}
    findings = irreversible_since_releases(CHAIN, releases, facts)
    assert triples(findings) == [
        (INFO, "irreversible-after-release", "s.0002_b"),
        (WARNING, "irreversible-after-release", "s.0004_d"),
    ]
    between, after = findings
    assert "between release 1.9 and 1.10" in between.message
    assert "RunPython forwards has no reverse_code" in between.message
    assert "between release 1.10 and the code on disk" in after.message
    assert "to 1.10" in after.why


def test_irreversible_without_releases_or_inside_the_oldest_release_is_not_reported():
    facts = {k("s.0001_a"): IRREVERSIBLE, k("s.0004_d"): IRREVERSIBLE}
    assert irreversible_since_releases(CHAIN, [], facts) == []
    assert irreversible_since_releases(CHAIN, [release(CHAIN, "1.0")], facts) == []


def test_squash_of_a_releases_irreversible_migrations_does_not_block_rolling_back_to_it():
    before = graph({"s.0002_b": ["s.0001_a"]})
    after = graph({"s.0002_b": ["s.0001_a"], SQ: []}, replaces={SQ: ["s.0001_a", "s.0002_b"]})
    facts = {k("s.0001_a"): IRREVERSIBLE, k(SQ): IRREVERSIBLE}  # the squash carries 0001_a's RunPython
    assert irreversible_since_releases(after, [release(before, "1.0")], facts) == []


# --------------------------------------------------------------------------- drift


def test_drift_edited():
    frozen = release(LINEAR, "1.0")
    edited = graph(LINEAR_EDGES, checksums={**sums("o.0001_x", "s.0001_a", "s.0003_c"), "s.0002_b": digest("new")})
    (finding,) = drift(edited, [frozen])
    assert (finding.severity, finding.code, finding.subject) == (ERROR, "drift-edited", "s.0002_b")
    assert "release 1.0" in finding.message


def test_drift_of_given_subjects_only():
    """What a rollback asks: only the migrations of its plan, in every release."""
    frozen = [release(LINEAR, "1.0"), release(LINEAR, "1.1")]
    edited = graph(LINEAR_EDGES, checksums={**sums("o.0001_x", "s.0001_a"), "s.0002_b": "1" * 64, "s.0003_c": "2" * 64})
    assert [f.subject for f in drift(edited, frozen)] == ["s.0002_b", "s.0003_c"] * 2
    assert [(f.subject, f.message) for f in drift(edited, frozen, {k("s.0003_c")})] == [
        (f.subject, f.message) for f in drift(edited, frozen) if f.subject == "s.0003_c"
    ]
    assert drift(edited, frozen, {k("o.0001_x")}) == drift(edited, frozen, set()) == []


def test_no_drift_when_unchanged_or_when_a_checksum_is_unknown():
    assert drift(LINEAR, [release(LINEAR, "1.0")]) == []
    no_file = graph(LINEAR_EDGES, checksums=sums("o.0001_x", "s.0001_a", "s.0003_c"))  # s.0002_b: no file
    assert drift(no_file, [release(LINEAR, "1.0")]) == []
    assert drift(LINEAR, [release(no_file, "1.0")]) == []


def test_drift_renamed_and_moved_between_apps():
    frozen = release(LINEAR, "1.0")
    renamed = graph(
        {"o.0001_x": [], "s.0002_bee": ["s.0001_a", "o.0001_x"], "s.0003_c": ["s.0002_bee"]},
        checksums={**sums("o.0001_x", "s.0001_a"), "s.0002_bee": digest("s.0002_b"), "s.0003_c": digest("edited")},
    )
    assert triples(drift(renamed, [frozen])) == [
        (ERROR, "drift-renamed", "s.0002_b"),
        (ERROR, "drift-edited", "s.0003_c"),
    ]
    assert "renamed: it is now s.0002_bee" in drift(renamed, [frozen])[0].message
    moved = graph(
        {"o.0001_x": [], "o.0002_b": ["s.0001_a", "o.0001_x"], "s.0003_c": ["o.0002_b"]},
        checksums={**sums("o.0001_x", "s.0001_a"), "o.0002_b": digest("s.0002_b"), "s.0003_c": digest("s.0003_c")},
    )
    (finding,) = [f for f in drift(moved, [frozen]) if f.subject == "s.0002_b"]
    assert finding.code == "drift-renamed"
    assert "moved to another app: it is now o.0002_b" in finding.message


def test_drift_deleted_unless_a_squash_replaces_it():
    frozen = release(LINEAR, "1.0")
    deleted = restrict(LINEAR, {k("o.0001_x"), k("s.0001_a"), k("s.0002_b")})
    assert triples(drift(deleted, [frozen])) == [(WARNING, "drift-deleted", "s.0003_c")]
    squashed_away = graph(
        {"o.0001_x": [], SQ: ["o.0001_x"], "s.0003_c": [SQ]},
        replaces={SQ: ["s.0001_a", "s.0002_b"]},
        checksums=sums("o.0001_x", "s.0003_c", SQ),
    )
    assert drift(squashed_away, [frozen]) == []


def test_drift_names_every_release_that_froze_the_migration():
    old, new = release(LINEAR, "1.0"), release(LINEAR, "1.1")
    edited = graph(LINEAR_EDGES, checksums={**sums("o.0001_x", "s.0001_a", "s.0003_c"), "s.0002_b": digest("new")})
    findings = drift(edited, [new, old])
    assert {f.subject for f in findings} == {"s.0002_b"}
    assert {r for f in findings for r in ("1.0", "1.1") if f"release {r}," in f.message} == {"1.0", "1.1"}


# --------------------------------------------------------------------------- unreachable releases


BEFORE_SQUASH = graph({"s.0002_b": ["s.0001_a"]}, checksums=sums("s.0001_a", "s.0002_b"))
ORIGINALS_DELETED = graph(
    {SQ: [], "s.0003_c": [SQ]}, replaces={SQ: ["s.0001_a", "s.0002_b"]}, checksums=sums(SQ, "s.0003_c")
)
ALL_APPLIED = frozenset(rows("s.0001_a", "s.0002_b", SQ, "s.0003_c"))


def test_release_inside_a_squash_whose_originals_are_gone_is_unreachable():
    old = release(BEFORE_SQUASH, "1.0", "s.0001_a")
    new = release(ORIGINALS_DELETED, "2.0")
    (finding,) = unreachable_releases(ORIGINALS_DELETED, [new, old])
    assert (finding.severity, finding.code, finding.subject) == (WARNING, "release-unreachable", "1.0")
    assert SQ in finding.message and "s.0002_b" in finding.message


def test_release_inside_a_squash_with_its_originals_on_disk_is_reachable():
    with_originals = graph(
        {"s.0002_b": ["s.0001_a"], SQ: [], "s.0003_c": [SQ]}, replaces={SQ: ["s.0001_a", "s.0002_b"]}
    )
    old = release(with_originals, "1.0", "s.0001_a")
    assert unreachable_releases(with_originals, [old]) == []


def test_release_exactly_at_the_squash_is_reachable():
    at_squash = release(BEFORE_SQUASH, "1.5")  # both originals: all of the squash
    assert unreachable_releases(ORIGINALS_DELETED, [at_squash]) == []


def test_unreachable_release_names_the_releases_that_stay_reachable():
    old = release(BEFORE_SQUASH, "1.0", "s.0001_a")
    new = release(ORIGINALS_DELETED, "2.0")
    (finding,) = unreachable_releases(ORIGINALS_DELETED, [new, old])
    assert "2.0" in finding.message + finding.fix


# --------------------------------------------------------------------------- recorded state


def test_ghost_rows_but_not_rows_for_replaced_names():
    recorded = rows("bj.0001", "bj.0002_mainline_x", "bj.0002_patch_add_y", "bj.0003_add_y", "bj.0009_gone", "x.0001_a")
    findings = recorded_state(PATCH, recorded)
    assert triples(findings) == [(WARNING, "ghost-row", "bj.0009_gone"), (WARNING, "ghost-row", "x.0001_a")]
    assert "--prune bj" in findings[0].fix


def test_duplicate_rows():
    (finding,) = recorded_state(LINEAR, rows("o.0001_x", "s.0001_a", "s.0001_a", "s.0001_a"))
    assert (finding.severity, finding.code, finding.subject) == (WARNING, "duplicate-rows", "s.0001_a")
    assert "3 times" in finding.message


@pytest.mark.parametrize(
    ("g", "recorded", "expected"),
    [
        pytest.param(LINEAR, rows("o.0001_x", "s.0001_a", "s.0003_c"), {("s.0003_c", "s.0002_b")}, id="gap"),
        pytest.param(LINEAR, rows("s.0001_a", "s.0002_b", "s.0003_c"), {("s.0002_b", "o.0001_x")}, id="other-app"),
        pytest.param(
            LINEAR, rows("s.0002_b"), {("s.0002_b", "o.0001_x"), ("s.0002_b", "s.0001_a")}, id="two-edges-one-node"
        ),
        pytest.param(SQUASHED, rows("o.0001_x", "s.0003_c"), {("s.0003_c", SQ)}, id="parent-is-an-unapplied-squash"),
        pytest.param(
            SQUASHED, rows("o.0001_x", "s.0002_b"), {("s.0002_b", "s.0001_a")}, id="inside-a-partly-applied-squash"
        ),
        pytest.param(
            PATCH, rows("bj.0001", "bj.0002_patch_add_y"), {("bj.0003_add_y", "bj.0002_mainline_x")}, id="patch-trick"
        ),
    ],
)
def test_inconsistent_history_names_the_exact_edges(g, recorded, expected):
    findings = recorded_state(g, recorded)
    assert edges(findings) == expected
    assert {(f.severity, f.code) for f in findings if f.code == "inconsistent-history"} == {
        (ERROR, "inconsistent-history")
    }


def test_consistent_history_has_no_findings():
    assert recorded_state(LINEAR, rows("o.0001_x", "s.0001_a", "s.0002_b")) == []
    assert recorded_state(SQUASHED, rows("o.0001_x", "s.0001_a", "s.0002_b")) == []  # squash applied, no row yet
    assert recorded_state(SQUASHED, rows("o.0001_x", "s.0001_a", "s.0002_b", SQ, "s.0003_c")) == []
    assert recorded_state(PATCH, rows("bj.0001", "bj.0002_mainline_x")) == []


def test_squash_partly_applied():
    findings = recorded_state(SQUASHED, rows("o.0001_x", "s.0001_a"))
    assert triples(findings) == [(WARNING, "squash-partly-applied", SQ)]
    assert "1 of the 2" in findings[0].message


# --------------------------------------------------------------------------- journal


def test_interrupted_and_failed_runs_are_reported_others_not():
    runs = [
        RunFact(1, "migrate-safe", "succeeded", "2026-01-01T10:00:00"),
        RunFact(2, "migrate-safe", "interrupted", "2026-01-02T10:00:00"),
        RunFact(3, "rollback", "failed", "2026-01-03T10:00:00"),
        RunFact(4, "rollback", "restored", "2026-01-04T10:00:00"),
        RunFact(5, "migrate-safe", "running", "2026-01-05T10:00:00"),  # the lock is held: still running
    ]
    findings = interrupted_runs(runs)
    assert triples(findings) == [(WARNING, "interrupted-run", "run 2"), (WARNING, "interrupted-run", "run 3")]
    assert "migrate-safe" in findings[0].message and "2026-01-02T10:00:00" in findings[0].message
    assert "migtool history 2" in findings[0].fix


# --------------------------------------------------------------------------- diagnose


def mixed_findings(recorded: Counter | None) -> list[Finding]:
    """Something of every severity, from code, releases, rows and journal."""
    g = graph(
        {
            **LINEAR_EDGES,
            "s.0003_d": ["s.0002_b"],
            "bj.0002_mainline_x": ["bj.0001"],
            "bj.0003_add_y": ["bj.0002_mainline_x"],
        },
        replaces={"bj.0003_add_y": ["bj.0002_patch_add_y"]},
        checksums={**sums("o.0001_x", "s.0001_a", "s.0003_c"), "s.0002_b": digest("edited")},
    )
    frozen = release(LINEAR, "1.0")
    facts = {
        k("s.0003_d"): MigrationFacts(irreversible=("RunSQL (x) has no reverse_sql",), non_atomic=True),
        k("o.0001_x"): MigrationFacts(non_atomic=True),
    }
    runs = [RunFact(7, "rollback", "interrupted", "2026-01-01T00:00:00")]
    return diagnose(g, [frozen], facts, recorded, runs)


def test_diagnose_sorts_by_severity_code_subject():
    findings = mixed_findings(rows("o.0001_x", "s.0001_a", "s.0003_c", "z.0001_ghost"))
    assert triples(findings) == [
        (ERROR, "conflicting-leaves", "s"),
        (ERROR, "drift-edited", "s.0002_b"),
        (ERROR, "inconsistent-history", "s.0003_c"),
        (WARNING, "ghost-row", "z.0001_ghost"),
        (WARNING, "interrupted-run", "run 7"),
        (WARNING, "irreversible-after-release", "s.0003_d"),
        (WARNING, "replaces-missing", "bj.0003_add_y"),
        (INFO, "non-atomic", "o.0001_x"),
        (INFO, "non-atomic", "s.0003_d"),
    ]


def test_without_a_database_only_code_and_release_checks_run():
    findings = mixed_findings(None)
    codes = {f.code for f in findings}
    assert codes.isdisjoint({"ghost-row", "duplicate-rows", "inconsistent-history", "interrupted-run"})
    assert codes.isdisjoint({"squash-partly-applied", "release-unreachable"})
    assert "drift-edited" in codes and "conflicting-leaves" in codes


def test_diagnose_does_not_depend_on_input_order():
    facts = {key: MigrationFacts(non_atomic=True, irreversible=("x",)) for key in LINEAR.nodes}
    recorded = rows("s.0003_c", "s.0001_a", "z.0002_b", "z.0001_a", "s.0001_a")
    runs = [RunFact(i, "migrate-safe", "interrupted", "t") for i in (3, 1, 2)]
    first = diagnose(LINEAR, [release(LINEAR, "1.0", "o.0001_x")], facts, recorded, runs)
    second = diagnose(
        LINEAR,
        [release(LINEAR, "1.0", "o.0001_x")],
        dict(reversed(list(facts.items()))),
        Counter(dict(reversed(list(recorded.items())))),
        list(reversed(runs)),
    )
    assert first == second
    assert len(first) == len(set(first))


# --------------------------------------------------------------------------- properties


@given(st.data())
def test_property_a_frozen_and_migrated_graph_is_clean(data):
    """Freezing the code and applying any ancestor-closed set in order never yields
    errors, drift, ghost or duplicate rows, nor an unreachable release."""
    g = data.draw(dags(one_leaf_per_app=True))
    applied = data.draw(applied_sets(g))
    findings = diagnose(g, [release(g, "1.0")], {}, Counter(applied))
    assert {f.code for f in findings} <= {"squash-partly-applied"}, findings


@given(dags(), st.booleans())
def test_property_output_is_sorted_and_repeatable(g, with_database):
    facts = {
        key: MigrationFacts(non_atomic=i % 2 == 0, irreversible=("x",) * (i % 3 == 0)) for i, key in enumerate(g.nodes)
    }
    recorded = Counter(list(g.nodes)[::2]) if with_database else None
    findings = diagnose(g, [], facts, recorded)
    assert findings == sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.subject))
    assert findings == diagnose(g, [], facts, recorded)
    assert all(f.severity in SEVERITY_ORDER and f.message and f.why and f.fix for f in findings)


def test_legacy_release_without_checksums_reports_no_edits():
    legacy = ReleaseSnapshot("0.9", {"s": AppSnapshot(leaves=("0003_c",), migrations=("0001_a", "0002_b", "0003_c"))})
    edited = graph(LINEAR_EDGES, checksums={"s.0002_b": digest("new")})
    assert drift(edited, [legacy]) == []


# ------------------------------------------------------------------ installed distributions (upstream)

WAGTAIL_7, WAGTAIL_8 = Distribution("wagtail", "7.0.10"), Distribution("wagtail", "8.0.1")


def upstream_release(g: ProjectGraph, name: str, *keep: str) -> ReleaseSnapshot:
    """``release``, with app ``o`` frozen as wagtail 7.0.10's files."""
    return freeze(restrict(g, {k(s) for s in keep}) if keep else g, name, "5.2", {"o": WAGTAIL_7})


O_EDITED = graph(LINEAR_EDGES, checksums={**sums("s.0001_a", "s.0002_b", "s.0003_c"), "o.0001_x": digest("v8")})


def test_an_installed_package_editing_its_own_migration_is_upstream_edited():
    """wagtail 8 rewrote o.0001_x, which releases 1.0 and 1.1 froze as wagtail 7's.  No rollback to
    either reverts it: info, and doctor stays green.  Release 0.9, frozen before the app was
    installed, does not contain it: a rollback to 0.9 would revert it with wagtail 8's code."""
    ownership = Ownership({"o": WAGTAIL_8})
    releases = [upstream_release(LINEAR, "1.0"), upstream_release(LINEAR, "1.1")]
    found = drift(O_EDITED, releases, ownership=ownership)
    assert triples(found) == [(INFO, "upstream-edited", "o.0001_x")] * 2
    assert (
        found[0].message
        == "o.0001_x, frozen in release 1.0 (wagtail 7.0.10), was changed by the installed wagtail 8.0.1."
    )
    assert "Nothing to restore" in found[0].fix and "MIGTOOL_DRIFT" in found[0].fix

    older = release(LINEAR, "0.9", "s.0001_a")
    found = drift(O_EDITED, [older, *releases], ownership=ownership)
    assert triples(found) == [(WARNING, "upstream-edited", "o.0001_x")] * 2
    assert found[0].why.startswith("A rollback to 0.9 would revert it with wagtail 8.0.1's code")
    assert drift(O_EDITED, releases) == drift(O_EDITED, releases, ownership=Ownership({"o": WAGTAIL_8}, {"o": "own"}))
    assert triples(drift(O_EDITED, releases))[0] == (ERROR, "drift-edited", "o.0001_x")  # not known as installed


def test_drift_policy_downgrades_or_ignores_apps_but_not_for_a_rollback():
    """MIGTOOL_DRIFT by app label or distribution name; a rollback judges the project's own apps strictly."""
    releases = [upstream_release(LINEAR, "1.0")]
    s_edited = graph(LINEAR_EDGES, checksums={**sums("o.0001_x", "s.0001_a", "s.0003_c"), "s.0002_b": digest("x")})
    assert drift(O_EDITED, releases, ownership=Ownership({"o": WAGTAIL_8}, {"wagtail": "ignore"})) == []
    assert triples(drift(O_EDITED, releases, ownership=Ownership({"o": WAGTAIL_8}, {"o": "warning"}))) == [
        (WARNING, "upstream-edited", "o.0001_x")
    ]
    downgraded = Ownership({}, {"s": "info"})
    assert triples(drift(s_edited, releases, ownership=downgraded)) == [(INFO, "drift-edited", "s.0002_b")]
    assert triples(drift(s_edited, releases, ownership=Ownership({}, {"s": "ignore"}))) == []
    for policy in ("info", "ignore", "warning"):
        strict = Ownership({}, {"s": policy}).for_rollback()
        assert triples(drift(s_edited, releases, ownership=strict)) == [(ERROR, "drift-edited", "s.0002_b")]


def test_drift_policy_setting_is_checked():
    assert check_policy(None) == {}
    assert check_policy({"wagtail": "info", "shop": "own"}) == {"wagtail": "info", "shop": "own"}
    for bad in ({"wagtail": "quiet"}, ["wagtail"], {1: "info"}):
        with pytest.raises(ConfigurationError, match="MIGTOOL_DRIFT"):
            check_policy(bad)
