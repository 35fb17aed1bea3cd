"""Release snapshots: freeze, the JSON format, parsing, legacy files, diff, names.

Arrows point from a migration to the migrations that depend on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from strategies import graph, k

from migtool.core.origins import Distribution
from migtool.core.release_diff import AppDiff, ReleaseDiff, diff
from migtool.core.snapshot import (
    AppSnapshot,
    ReleaseSnapshot,
    check_release_name,
    freeze,
    parse_snapshot,
    release_sort_key,
    resolve_legacy,
)
from migtool.errors import GraphConflictError, InvalidReleaseNameError, MalformedReleaseError

D0, D1 = "0" * 64, "1" * 64
SOURCE = "releases/1.0.json"

MERGED = graph(
    {"s.0002_x": ["s.0001"], "s.0002_y": ["s.0001"], "s.0003_merge": ["s.0002_x", "s.0002_y"]},
    checksums={"s.0001": D0, "s.0002_x": D0, "s.0002_y": D1, "s.0003_merge": D1},
)
SQUASH = "0001_squashed_0002"
SQUASHED_EDGES = {
    "s.0002_b": ["s.0001_a", "o.0001_x"],
    "s.0003_c": ["s.0002_b"],
    f"s.{SQUASH}": ["o.0001_x"],
}
SQUASHED = graph(SQUASHED_EDGES, replaces={f"s.{SQUASH}": ["s.0001_a", "s.0002_b"]})
ORIGINALS_DELETED = graph(
    {f"s.{SQUASH}": [], "s.0003_c": [f"s.{SQUASH}"]}, replaces={f"s.{SQUASH}": ["s.0001_a", "s.0002_b"]}
)
BEFORE_SQUASH = graph({"s.0002_b": ["s.0001_a", "o.0001_x"], "s.0003_c": ["s.0002_b"]})


def test_freeze_merge_shape():
    """
    s.0001 ──> s.0002_x ──> s.0003_merge
       └─────> s.0002_y ──────┘
    """
    assert freeze(MERGED, "2.0.3", "5.2") == ReleaseSnapshot(
        release="2.0.3",
        apps={
            "s": AppSnapshot(
                leaves=("0003_merge",),
                migrations=("0001", "0002_x", "0002_y", "0003_merge"),
                checksums={"0001": D0, "0002_x": D0, "0002_y": D1, "0003_merge": D1},
            )
        },
        django_version="5.2",
    )


SQUASH_IS_LEAF = graph(
    {"s.0002_b": ["s.0001_a", "o.0001_x"], f"s.{SQUASH}": ["o.0001_x"]},
    replaces={f"s.{SQUASH}": ["s.0001_a", "s.0002_b"]},
)


def test_freeze_squash_of_the_latest_migrations_records_both_spellings():
    """
    o.0001_x ──────────┐
                       v
    s.0001_a ──> s.0002_b
    └─ s.0001_squashed_0002 ─┘        (depends on o.0001_x; s's leaf)
    """
    snapshot = freeze(SQUASH_IS_LEAF, "2.0", None)
    assert snapshot.apps == {
        "o": AppSnapshot(leaves=("0001_x",), migrations=("0001_x",)),
        "s": AppSnapshot(
            leaves=(SQUASH,),
            migrations=("0001_a", SQUASH, "0002_b"),
            squashes={SQUASH: (k("s.0001_a"), k("s.0002_b"))},
        ),
    }


def test_freeze_squash_with_originals_on_disk_records_both_spellings():
    """
        o.0001_x ───────────┐
                            v
        s.0001_a ──> s.0002_b ──> s.0003_c
        └─ s.0001_squashed_0002 ─┘        (depends on o.0001_x)

    Nothing declares a dependency on the squash, yet it is part of the release,
    and a diff from a release frozen before it shows it as a re-spelling
    (``squashed``), not as added: it replaces nothing the old release lacked.
    """
    snapshot = freeze(SQUASHED, "2.0", None)
    assert snapshot.apps == {
        "o": AppSnapshot(leaves=("0001_x",), migrations=("0001_x",)),
        "s": AppSnapshot(
            leaves=("0003_c",),
            migrations=("0001_a", SQUASH, "0002_b", "0003_c"),
            squashes={SQUASH: (k("s.0001_a"), k("s.0002_b"))},
        ),
    }
    changes = diff(freeze(BEFORE_SQUASH, "1.0", None), snapshot)
    assert changes.apps == (AppDiff("s", (), (), (), squashed=((SQUASH, 2),)),)
    assert not changes.has_changes  # a re-spelling is not a migration change: diff --check passes


def test_freeze_squash_whose_originals_are_deleted():
    """
        s.0001_squashed_0002 ──> s.0003_c      (replaces s.0001_a, s.0002_b: no longer on disk)

    The release still states what the squash stands for, so it can be matched
    with a database (or release) that has the originals.
    """
    snapshot = freeze(ORIGINALS_DELETED, "3.0", None)
    assert snapshot.apps["s"].migrations == (SQUASH, "0003_c")
    assert snapshot.apps["s"].squashes == {SQUASH: (k("s.0001_a"), k("s.0002_b"))}


def test_diff_is_squash_free_when_the_originals_are_deleted():
    """1.0 had s.0001_a, s.0002_b, s.0003_c; 3.0 squashed the first two and
    deleted them.  App s did not change: the squash re-spells 1.0's
    migrations and its deleted originals are not removed (app o, gone, is)."""
    changes = diff(freeze(BEFORE_SQUASH, "1.0", None), freeze(ORIGINALS_DELETED, "3.0", None))
    assert changes.apps == (AppDiff("o", (), ("0001_x",), ()), AppDiff("s", (), (), (), squashed=((SQUASH, 2),)))


def test_diff_counts_a_squash_of_migrations_the_old_release_lacked_as_added():
    """A squash that replaces a migration the old release never had brings
    that migration in: it is added, not a re-spelling.  The original it
    replaces (0001_a, deleted) lives on inside it, so it is not removed."""
    only_a = graph({"s.0001_a": []})
    changes = diff(freeze(only_a, "0.9", None), freeze(ORIGINALS_DELETED, "3.0", None))
    assert changes.apps == (AppDiff("s", (SQUASH, "0003_c"), (), ()),)


def test_diff_counts_an_original_deleted_without_a_squash_as_removed():
    """Going back from the squashed release to the one before it: the squash
    is removed (nothing in 1.0 replaces it), the originals are added back."""
    changes = diff(freeze(ORIGINALS_DELETED, "3.0", None), freeze(BEFORE_SQUASH, "1.0", None))
    assert changes.apps == (AppDiff("o", ("0001_x",), (), ()), AppDiff("s", ("0001_a", "0002_b"), (SQUASH,), ()))


def test_freeze_refuses_conflicting_leaves():
    """
    s.0001 ──> s.0002_x          o.0001 (fine)
       └─────> s.0002_y
    """
    conflict = graph({"s.0002_x": ["s.0001"], "s.0002_y": ["s.0001"], "o.0001": []})
    with pytest.raises(GraphConflictError) as excinfo:
        freeze(conflict, "2.0", None)
    assert "(s: 0002_x, 0002_y)" in excinfo.value.message
    assert excinfo.value.details == {"conflicts": {"s": ["0002_x", "0002_y"]}}
    assert "makemigrations --merge" in (excinfo.value.hint or "")


def test_to_json_is_byte_stable():
    """Sorted keys and lists, two-space indent, trailing newline: the exact file."""
    snapshot = ReleaseSnapshot(
        release="1.0",
        apps={
            "s": AppSnapshot(
                leaves=("0002",),
                migrations=("0002", "0001"),
                squashes={"0002": (k("s.0001"), k("r.0009"))},
                checksums={"0002": D1, "0001": D0},
            )
        },
        django_version="5.2",
    )
    assert snapshot.to_json() == (
        "{\n"
        '  "apps": {\n'
        '    "s": {\n'
        '      "checksums": {\n'
        f'        "0001": "{D0}",\n'
        f'        "0002": "{D1}"\n'
        "      },\n"
        '      "leaves": [\n        "0002"\n      ],\n'
        '      "migrations": [\n        "0001",\n        "0002"\n      ],\n'
        '      "squashes": {\n        "0002": [\n          "r.0009",\n          "s.0001"\n        ]\n      }\n'
        "    }\n"
        "  },\n"
        '  "django_version": "5.2",\n'
        '  "format": "migtool-release",\n'
        '  "format_version": 1,\n'
        '  "release": "1.0"\n'
        "}\n"
    )


def test_freeze_twice_gives_identical_bytes():
    """The same migrations, listed in another order, freeze to the same file."""
    reordered = graph(dict(reversed(SQUASHED_EDGES.items())), replaces={f"s.{SQUASH}": ["s.0001_a", "s.0002_b"]})
    assert freeze(reordered, "2.0", "5.2").to_json() == freeze(SQUASHED, "2.0", "5.2").to_json()


@pytest.mark.parametrize(
    "snapshot",
    [
        pytest.param(freeze(MERGED, "2.0.3", "5.2"), id="merge"),
        pytest.param(freeze(SQUASH_IS_LEAF, "2.0.3", None), id="squash"),
        pytest.param(freeze(ORIGINALS_DELETED, "2.0.3", "6.0"), id="originals-deleted"),
        pytest.param(freeze(graph({}), "2.0.3", "6.0"), id="no-migrations-yet"),
    ],
)
def test_to_json_round_trips(snapshot):
    text = snapshot.to_json()
    parsed = parse_snapshot(text, "2.0.3", SOURCE)
    assert parsed == snapshot
    assert parsed.to_json() == text


def test_parse_legacy_flat_format():
    snapshot = parse_snapshot('{"s": "0003_c", "o": "0001_x"}', "1.0", SOURCE)
    assert snapshot == ReleaseSnapshot(
        release="1.0",
        apps={"o": AppSnapshot(leaves=("0001_x",), migrations=()), "s": AppSnapshot(leaves=("0003_c",), migrations=())},
        legacy=True,
    )


def current_format(mutate: Callable[[dict[str, Any]], object] = lambda data: None) -> str:
    """A valid release file for ``1.0``, after ``mutate`` changed its parsed form in place."""
    data: dict[str, Any] = {
        "format": "migtool-release",
        "format_version": 1,
        "release": "1.0",
        "django_version": "5.2",
        "apps": {
            "s": {
                "leaves": ["0002"],
                "migrations": ["0001", "0002"],
                "squashes": {"0002": ["s.0001"]},
                "checksums": {"0001": D0},
            }
        },
    }
    mutate(data)
    return json.dumps(data)


def app_s(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["apps"]["s"].__setitem__(field, value)


def top(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.__setitem__(field, value)


MALFORMED = [
    pytest.param("release 1.0", "not valid JSON", id="not-json"),
    pytest.param(current_format()[:-20], "not valid JSON", id="truncated"),
    pytest.param('["s", "0001"]', "the top level is not a JSON object", id="list"),
    pytest.param("{}", "it names no apps", id="empty-object"),
    pytest.param(current_format(top("format", "other")), "unsupported format 'other' version 1", id="wrong-format"),
    pytest.param(
        current_format(top("format_version", 3)), "unsupported format 'migtool-release' version 3", id="wrong-version"
    ),
    pytest.param(
        current_format(top("release", "9.9")),
        "it says it is release '9.9', but the file is named for '1.0'",
        id="release-mismatch",
    ),
    pytest.param(current_format(top("apps", ["s"])), "'apps' must be an object", id="apps-list"),
    pytest.param(current_format(top("django_version", 5)), "'django_version' must be a string", id="django-version"),
    pytest.param(
        current_format(lambda d: d["apps"].__setitem__("s", ["0001"])), "app 's' is not an object", id="app-not-object"
    ),
    pytest.param(
        current_format(app_s("leaves", "0002")),
        "app 's': 'leaves' must be a list of migration names",
        id="leaves-string",
    ),
    pytest.param(
        current_format(app_s("migrations", ["0001", 2])),
        "app 's': 'migrations' must be a list",
        id="migration-not-string",
    ),
    pytest.param(
        current_format(app_s("migrations", ["0001", ""])), "app 's': 'migrations' must be a list", id="migration-empty"
    ),
    pytest.param(
        current_format(app_s("leaves", ["0003"])),
        "app 's': every leaf must be one of its migrations",
        id="leaf-not-member",
    ),
    pytest.param(
        current_format(app_s("leaves", [])), "app 's': every leaf must be one of its migrations", id="no-leaf"
    ),
    pytest.param(
        current_format(app_s("checksums", {"0001": "xyz"})), "app 's': 'checksums' must map", id="checksum-not-hex"
    ),
    pytest.param(
        current_format(app_s("checksums", {"0001": "A" * 64})), "app 's': 'checksums' must map", id="checksum-uppercase"
    ),
    pytest.param(current_format(app_s("checksums", ["0001"])), "app 's': 'checksums' must map", id="checksums-list"),
    pytest.param(
        current_format(app_s("checksums", {"0001": "a" * 63, "0002": "a" * 65})),
        "app 's': 'checksums' must map",
        id="checksum-lengths-that-add-up",
    ),
    pytest.param(
        current_format(app_s("checksums", {"0001": "a" * 64, "0002": 7})),
        "app 's': 'checksums' must map",
        id="checksum-number",
    ),
    pytest.param(
        current_format(app_s("migrations", ["0001", 2])), "app 's': 'migrations' must be a list", id="migration-number"
    ),
    pytest.param(current_format(app_s("squashes", ["0002"])), "app 's': 'squashes' must map", id="squashes-list"),
    pytest.param(
        current_format(app_s("squashes", {"0002": "s.0001"})), "app 's': 'squashes' must map", id="replaces-string"
    ),
    pytest.param(
        current_format(app_s("squashes", {"0009": ["s.0001"]})),
        "app 's': squash '0009' is not one of its migrations",
        id="squash-not-member",
    ),
    pytest.param(
        current_format(app_s("squashes", {"0002": ["0001"]})),
        "squash '0002' replaces '0001', which is not 'app.name'",
        id="replaces-no-app",
    ),
    pytest.param(
        current_format(app_s("squashes", {"0002": [".0001"]})),
        "squash '0002' replaces '.0001', which is not 'app.name'",
        id="replaces-empty-app",
    ),
    pytest.param(
        current_format(app_s("squashes", {"0002": ["s."]})),
        "squash '0002' replaces 's.', which is not 'app.name'",
        id="replaces-empty-name",
    ),
    pytest.param(
        '{"s": ["0001"]}', "app 's' must map to a migration name (legacy format), not ['0001']", id="legacy-list"
    ),
    pytest.param(
        '{"s": "0001", "o": null}', "app 'o' must map to a migration name (legacy format), not None", id="legacy-null"
    ),
    pytest.param('{"s": ""}', "app 's' must map to a migration name (legacy format)", id="legacy-empty"),
    pytest.param(
        current_format(app_s("distribution", "wagtail")),
        "app 's': 'distribution' must be an object with a 'name' and a 'version'",
        id="distribution-string",
    ),
    pytest.param(
        current_format(app_s("distribution", {"name": "wagtail", "version": ""})),
        "app 's': 'distribution' must be an object with a 'name' and a 'version'",
        id="distribution-no-version",
    ),
    pytest.param(current_format(top("format_version", True)), "version True", id="version-true"),
    pytest.param(current_format(top("format_version", 1.0)), "version 1.0", id="version-float"),
    pytest.param(current_format(top("format_version", "1")), "version '1'", id="version-string"),
]


@pytest.mark.parametrize(("text", "problem"), MALFORMED)
def test_parse_malformed(text, problem):
    """Every malformed file is a MalformedReleaseError naming the file and the problem."""
    with pytest.raises(MalformedReleaseError) as excinfo:
        parse_snapshot(text, "1.0", SOURCE)
    error = excinfo.value
    assert re.match(rf"Malformed release file {re.escape(SOURCE)}: .*{re.escape(problem)}", error.message)
    assert error.details["path"] == SOURCE
    assert "--release 1.0 --force" in (error.hint or "")


def test_current_format_fixture_is_valid():
    """The base of the malformed cases parses, so each case fails only for its one change."""
    assert parse_snapshot(current_format(), "1.0", SOURCE).apps["s"].squashes == {"0002": (k("s.0001"),)}


@pytest.mark.parametrize(
    ("code", "leaves", "expected"),
    [
        pytest.param(
            BEFORE_SQUASH,
            {"s": "0003_c"},
            {"o": ((), ("0001_x",)), "s": (("0003_c",), ("0001_a", "0002_b", "0003_c"))},
            id="leaf-with-ancestors",
        ),
        pytest.param(
            SQUASHED,
            {"s": SQUASH},
            {"o": ((), ("0001_x",)), "s": ((SQUASH,), ("0001_a", SQUASH, "0002_b"))},
            id="leaf-is-squash",
        ),
        pytest.param(SQUASHED, {"s": "0009_gone"}, {"s": (("0009_gone",), ("0009_gone",))}, id="leaf-not-on-disk"),
    ],
)
def test_resolve_legacy(code, leaves, expected):
    """A leaves-only file becomes the closure of its leaves in the code on disk
    (BEFORE_SQUASH is SQUASHED without the squash); checksums stay unknown."""
    legacy = parse_snapshot(json.dumps(leaves), "1.0", SOURCE)
    resolved = resolve_legacy(legacy, code)
    assert {app: (s.leaves, s.migrations) for app, s in resolved.apps.items()} == expected
    assert resolved.legacy
    assert all(not s.checksums for s in resolved.apps.values())
    squashes = {app: dict(s.squashes) for app, s in resolved.apps.items() if s.squashes}
    assert squashes == (
        {"s": {SQUASH: (k("s.0001_a"), k("s.0002_b"))}} if SQUASH in resolved.apps["s"].migrations else {}
    )


def test_legacy_file_resolves_like_a_freeze_of_the_same_code():
    """A leaves-only file with the leaves a freeze would record has the same members (SQUASHED)."""
    frozen = freeze(SQUASHED, "2.0", None)
    legacy = json.dumps({app: s.leaves[0] for app, s in frozen.apps.items()})
    resolved = resolve_legacy(parse_snapshot(legacy, "2.0", SOURCE), SQUASHED)
    assert resolved.keys() == frozen.keys()
    assert not diff(resolved, frozen).has_changes


def test_resolve_legacy_leaves_a_current_snapshot_alone():
    snapshot = freeze(MERGED, "2.0", None)
    assert resolve_legacy(snapshot, SQUASHED) is snapshot


def snapshot(release: str, apps: dict[str, dict[str, str | None]]) -> ReleaseSnapshot:
    """A release from ``{app: {migration: checksum or None}}``; each app's last name is its leaf."""
    return ReleaseSnapshot(
        release=release,
        apps={
            app: AppSnapshot(
                leaves=(max(migrations),),
                migrations=tuple(sorted(migrations)),
                checksums={m: c for m, c in migrations.items() if c},
            )
            for app, migrations in apps.items()
        },
    )


OLD = snapshot("1.0", {"s": {"0001": D0, "0002": D0, "0003": None}, "t": {"0001": D0}, "u": {"0001": D0}})
NEW = snapshot("2.0", {"s": {"0001": D0, "0002": D1, "0003": D1, "0004": D0}, "o": {"0001": D0}, "u": {"0001": D0}})


def test_diff_added_removed_edited():
    """s: 0004 added, 0002 edited (0003 has no checksum in 1.0: not compared);
    o: new app; t: app gone; u: unchanged, so not listed."""
    assert diff(OLD, NEW) == ReleaseDiff(
        old="1.0",
        new="2.0",
        apps=(
            AppDiff("o", added=("0001",), removed=(), edited=()),
            AppDiff("s", added=("0004",), removed=(), edited=("0002",)),
            AppDiff("t", added=(), removed=("0001",), edited=()),
        ),
    )


def test_diff_reversed_swaps_added_and_removed():
    backwards = diff(NEW, OLD)
    assert [(a.app, a.added, a.removed, a.edited) for a in backwards.apps] == [
        ("o", (), ("0001",), ()),
        ("s", (), ("0004",), ("0002",)),
        ("t", ("0001",), (), ()),
    ]


def test_diff_of_equal_releases_has_no_changes():
    changes = diff(OLD, OLD)
    assert not changes.has_changes
    assert changes.apps == ()
    assert changes.unverified == ()


def test_diff_with_legacy_release_is_unverified_and_reports_no_edits():
    """A resolved legacy file knows no checksums, so an edited file cannot be seen."""
    legacy = resolve_legacy(parse_snapshot('{"s": "0003_c", "o": "0001_x"}', "1.0", SOURCE), BEFORE_SQUASH)
    edited = graph(
        {"s.0002_b": ["s.0001_a", "o.0001_x"], "s.0003_c": ["s.0002_b"]},
        checksums={"s.0001_a": D1, "s.0002_b": D1, "s.0003_c": D1, "o.0001_x": D1},
    )
    changes = diff(legacy, freeze(edited, "2.0", None))
    assert not changes.has_changes
    assert changes.unverified == ("1.0",)


@pytest.mark.parametrize("name", ["2.0.3", "v1_2+build-5", "1", "-rc", "a" * 128, "2024.01.15-hotfix"])
def test_check_release_name_accepts(name):
    assert check_release_name(name) == name


@pytest.mark.parametrize(
    "name", ["../x", ".hidden", "..", "a/b", "a\\b", "", "two words", "a" * 129, "2.0\n", "x;rm", "é"]
)
def test_check_release_name_rejects(name):
    with pytest.raises(InvalidReleaseNameError) as excinfo:
        check_release_name(name)
    assert excinfo.value.message == f"Invalid release name {name!r}."
    assert excinfo.value.details == {"release": name}
    assert excinfo.value.hint


@pytest.mark.parametrize(
    ("older", "newer"),
    [("2.0.9", "2.0.10"), ("9.9", "10.0"), ("1.2", "1.10"), ("1.0", "1.0.1"), ("v2", "v10"), ("2", "10"), ("a", "b")],
)
def test_release_sort_key_orders_like_versions(older, newer):
    assert release_sort_key(older) < release_sort_key(newer)


def test_release_sort_key_sorts_a_list():
    releases = ["2.0.10", "10.0", "2.0.9", "9.9", "1.0"]
    assert sorted(releases, key=release_sort_key) == ["1.0", "2.0.9", "2.0.10", "9.9", "10.0"]


def test_excerpt_of_some_apps_leaves_the_others_out_unchecked():
    """What a rollback's drift check reads: the plan's apps, parsed as strictly as always."""
    other = {"leaves": ["0001"], "migrations": ["0001"], "checksums": {"0001": D1}}
    text = current_format(lambda data: data["apps"].update(o=other, broken={"leaves": 7}))
    excerpt = parse_snapshot(text, "1.0", SOURCE, only_apps={"o"})
    assert excerpt.apps == {"o": AppSnapshot(leaves=("0001",), migrations=("0001",), checksums={"0001": D1})}
    with pytest.raises(MalformedReleaseError, match="app 'broken'"):
        parse_snapshot(text, "1.0", SOURCE)
    with pytest.raises(MalformedReleaseError, match="app 'broken'"):
        parse_snapshot(text, "1.0", SOURCE, only_apps={"o", "broken"})


def test_a_release_frozen_from_git_records_provenance_and_what_it_did_not_freeze():
    from dataclasses import replace

    base = snapshot("1.0", {"s": {"0001": D0}})
    from_git = replace(base, source={"git_ref": "v1.0", "commit": "c" * 40})
    data = json.loads(from_git.to_json())
    assert data["source"] == {"git_ref": "v1.0", "commit": "c" * 40}
    assert data["format_version"] == 1  # every app frozen: readable by a migtool that knows only version 1
    partial = replace(from_git, external=("contenttypes", "auth"), unreadable={"t": "t/migrations/0002.py: why"})
    data = json.loads(partial.to_json())
    assert (data["format_version"], data["external"]) == (2, ["auth", "contenttypes"])
    parsed = parse_snapshot(partial.to_json(), "1.0", "1.0.json")
    assert parsed == replace(partial, external=("auth", "contenttypes"))
    assert parsed.not_frozen == {"auth", "contenttypes", "t"}
    only_external = replace(partial, apps={})
    assert parse_snapshot(only_external.to_json(), "1.0", "1.0.json").apps == {}


def test_diff_does_not_compare_apps_a_release_did_not_freeze():
    from dataclasses import replace

    checkout = snapshot("1.0", {"s": {"0001": D0}, "auth": {"0001": D0}})
    from_git = replace(snapshot("1.1", {"s": {"0001": D0, "0002": D1}}), external=("auth",))
    changes = diff(checkout, from_git)
    assert changes.apps == (AppDiff("s", added=("0002",), removed=(), edited=()),)
    assert changes.not_compared == ("auth",)


def test_freeze_records_the_distribution_of_installed_apps_only():
    """An app whose migrations an installed distribution ships carries it (name and version);
    the project's own apps carry nothing, so their part of the file is as before; older files
    without the field read as "not recorded"."""
    g = graph({"s.0001": [], "o.0001": []}, checksums={"s.0001": "0" * 64, "o.0001": "1" * 64})
    frozen = freeze(g, "1.0", "5.2", {"o": Distribution("wagtail", "7.0.10")})
    data = json.loads(frozen.to_json())
    assert data["apps"]["o"]["distribution"] == {"name": "wagtail", "version": "7.0.10"}
    assert "distribution" not in data["apps"]["s"]
    assert json.loads(freeze(g, "1.0", "5.2").to_json())["apps"]["s"] == data["apps"]["s"]
    parsed = parse_snapshot(frozen.to_json(), "1.0", SOURCE)
    assert parsed == frozen and parsed.apps["s"].distribution is None
