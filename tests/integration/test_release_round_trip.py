"""Whatever ``freeze`` writes, every command reads (issue 10).

A project's code goes through every shape ``freeze`` can write a file for: no
migrations yet (``"apps": {}``), a merge, a squash with its originals on
disk, squashed apps with the originals deleted, ``replaces`` of names on no
disk, a placeholder replaced twice.  Each version is frozen, and then every
release file goes through ``releases``, ``diff`` (with every other release
and with the code), ``status`` and ``rollback --dry-run``: none may call a
file malformed (exit 2) or fail (exit 70).  Rolling back to the release
frozen before any migration existed unapplies everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from projects import Project
from scenarios import (
    Apps,
    merge_shape,
    nested_and_shared_stages,
    shared_placeholder_shape,
    squash_shape,
    squashed_apps_stages,
)
from test_replaced_dependencies import move_code

MakeProject = Callable[..., Project]


def versions() -> list[Apps]:
    """Code versions in order; each keeps the apps of the one before (as a project grows)."""
    shapes = [merge_shape(), squash_shape(), shared_placeholder_shape(), *squashed_apps_stages()]
    result, code = [], {label: {} for label in ("shop", "other", "q", "bj", "documents", "mail")}
    for shape in shapes:
        code = {**code, **shape}
        result.append({label: dict(migrations) for label, migrations in code.items()})
    return result


def test_every_release_freeze_writes_is_read_by_every_command(make_project: MakeProject) -> None:
    empty = {label: {} for label in ("shop", "other", "q", "bj", "documents", "mail")}
    project = make_project(empty)
    frozen = project.migtool("freeze", "--release", "r0", "--format", "json")
    assert frozen.code == 0, frozen
    assert json.loads((project.root / "releases" / "r0.json").read_text())["apps"] == {}
    names = ["r0"]
    for index, code in enumerate(versions(), start=1):
        move_code(project, code)
        result = project.migtool("freeze", "--release", f"r{index}")
        assert result.code == 0, result
        names.append(f"r{index}")
    migrated = project.manage("migrate", "--noinput")
    assert migrated.code == 0, migrated

    listing = project.migtool("releases", "--format", "json")
    assert listing.code == 0, listing
    rows = {r["name"]: r for r in json.loads(listing.stdout)["releases"]}
    assert set(rows) == set(names)
    assert (rows["r0"]["apps"], rows["r0"]["migrations"]) == (0, 0)

    for old, new in zip(names, names[1:], strict=False):
        for pair in ((old, new), (new, old)):
            compared = project.migtool("diff", *pair, "--format", "json")
            assert compared.code == 0, compared
            assert json.loads(compared.stdout)["has_changes"] is _differ(project, *pair), compared
    for name in (names[0], names[-1]):
        assert project.migtool("diff", name).code == 0
    for name in names:
        dry = project.migtool("rollback", name, "--dry-run", "--format", "json")
        assert dry.code in (0, 4), dry  # 4: a release inside a squash whose originals are gone
    status = project.migtool("status", "--format", "json")
    assert status.code == 0, status
    assert json.loads(status.stdout)["matching_releases"] == [names[-1]]


def _differ(project: Project, old: str, new: str) -> bool:
    read = [json.loads((project.root / "releases" / f"{n}.json").read_text())["apps"] for n in (old, new)]
    return read[0] != read[1]


@pytest.mark.backends
def test_rollback_to_a_release_frozen_before_any_migration_unapplies_everything(
    make_project: MakeProject, backend: str
) -> None:
    """``"apps": {}``: everything migtool can see is unapplied, and the database then
    matches that release."""
    code = nested_and_shared_stages()[1]
    project = make_project({label: {} for label in code})
    assert project.migtool("freeze", "--release", "r0").code == 0
    move_code(project, code)
    assert project.manage("migrate", "--noinput").code == 0
    done = project.migtool("rollback", "r0", "--yes")
    assert done.code == 0, done
    assert project.db.applied() == set()
    assert not {t for t in project.db.tables() if t.startswith(("bj_", "cal_"))}
    status = project.migtool("status", "--format", "json")
    assert json.loads(status.stdout)["matching_releases"] == ["r0"], status
