"""Projects whose migrations depend on replaced names gone from disk (issue 10), end to end.

Django's loader repoints a dependency (or ``run_before``) on a replaced name to
the squash replacing it; migtool must load such projects in every command and
plan them to exactly where stock Django's ``migrate`` goes.  Each shape is
three versions of the code (``scenarios.squashed_apps_stages``,
``nested_and_shared_stages``), frozen as releases r1, r2, r3 as the code moves
on.  Every outcome is compared with a fresh database that ``manage.py migrate``
brought to the same code on the same backend (``oracle.py``): the rows of
``django_migrations`` and every column.  ``make test`` runs the nested and
shared squashes through every command on SQLite, and through a deploy and its
undo (``migrate_and_roll_back_like_django``) on PostgreSQL and MariaDB.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
from oracle import assert_same_state, django_reaches, squashes_of, state_of
from projects import Project, Result
from scenarios import Apps, nested_and_shared_stages, squashed_apps_stages

MakeProject = Callable[..., Project]
EXIT_OK, EXIT_CONFIG, EXIT_REFUSED = 0, 3, 4


def move_code(project: Project, apps: Apps) -> None:
    """Make the project's migration files exactly ``apps`` (deleting what is gone)."""
    for label, migrations in project.apps.items():
        for name in list(migrations):
            if name not in apps.get(label, {}):
                project.remove_migration(label, name)
    for label, migrations in apps.items():
        if label not in project.apps:
            project.add_app(label, migrations)
        for name, source in migrations.items():
            project.write_migration(label, name, source)


def ok(result: Result) -> Result:
    assert result.code == EXIT_OK, result
    return result


def json_of(result: Result) -> dict:
    return json.loads(ok(result).stdout)


def migrate_and_roll_back_like_django(make_project: MakeProject, backend: str, release: Apps, now: Apps) -> None:
    """The round trip of a deploy and its undo, held to stock Django at both ends.

    Django's ``migrate`` brings a fresh database to the release's code (so that
    state is the oracle for the release), which is frozen; the code moves on to
    ``now``; ``migrate-safe`` brings the database there, compared with a fresh
    ``migrate`` of ``now``; ``rollback`` returns it to the release.
    """
    squashes = squashes_of(release, now)
    project = make_project(release, backend=backend)
    ok(project.manage("migrate", "--noinput"))
    at_release = state_of(project.db)
    ok(project.migtool("freeze", "--release", "release"))
    move_code(project, now)
    ok(project.migtool("migrate-safe"))
    assert_same_state(project.db, django_reaches(make_project, now, backend), squashes)
    ok(project.migtool("rollback", "release", "--yes"))
    assert_same_state(project.db, at_release, squashes)


def run_stages(make_project: MakeProject, backend: str, stages: list[Apps], partly_at: int) -> Project:
    """Freeze each stage as r1, r2, r3 on a database Django migrated at stage ``partly_at``;
    then check every command on the last stage, and return the project."""
    project = make_project(stages[0])
    for index, apps in enumerate(stages, start=1):
        move_code(project, apps)
        ok(project.migtool("freeze", "--release", f"r{index}"))
        if index == partly_at:
            ok(project.manage("migrate", "--noinput"))
    return project


# builder, the stage Django migrated the database at, doctor's error findings.
SHAPES = {
    "squashed-apps": (squashed_apps_stages, 1, set()),
    "nested-and-shared": (nested_and_shared_stages, 2, {"replaced-twice"}),
}


@pytest.mark.backends
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_command_reaches_what_django_reaches(make_project: MakeProject, backend: str, shape: str) -> None:
    if shape != "squashed-apps" and backend != "sqlite" and not os.environ.get("MIGTOOL_CONFORMANCE_EXAMPLES"):
        pytest.skip("make test runs this shape on SQLite; make test-conformance on every backend")
    build, partly_at, expected_errors = SHAPES[shape]
    stages = build()
    squashes = squashes_of(*stages)
    project = run_stages(make_project, backend, stages, partly_at)
    final = stages[-1]

    release = json.loads((project.root / "releases" / "r3.json").read_text())
    assert {app: set(entry["migrations"]) for app, entry in release["apps"].items()} == {
        app: set(migrations) for app, migrations in final.items()
    }, "the release names exactly what is on disk"

    status = json_of(project.migtool("status", "--format", "json"))
    assert status["matching_releases"] == [f"r{partly_at}"], status
    doctor = project.migtool("doctor", "--database", "default", "--format", "json")
    errors = {f["code"] for f in json.loads(doctor.stdout)["findings"] if f["severity"] == "error"}
    assert errors == expected_errors, doctor
    assert doctor.code == (1 if errors else EXIT_OK), doctor

    # A database Django migrated with older code, brought forward by migtool.
    plan = json_of(project.migtool("migrate-safe", "--plan", "--format", "json"))
    assert plan["steps"], plan
    ok(project.migtool("migrate-safe"))
    at_final = django_reaches(make_project, final, backend)
    assert_same_state(project.db, at_final, squashes)

    # Back to each earlier release, where the code allows it.
    table, column = ("documents_doc", "title") if shape == "squashed-apps" else ("bj_b", "pa")
    project.db.execute(f"INSERT INTO {table} ({column}) VALUES (%s)", ("7",))
    ok(project.migtool("rollback", "r2", "--yes"))
    assert_same_state(project.db, django_reaches(make_project, stages[1], backend), squashes)
    if shape == "squashed-apps":
        ok(project.migtool("rollback", "r1", "--yes"))
        assert_same_state(project.db, django_reaches(make_project, stages[0], backend), squashes)
    else:  # r1 lies inside squash B, whose originals are gone: Django cannot get there either.
        before = state_of(project.db)
        refused = project.migtool("rollback", "r1", "--yes")
        assert refused.code == EXIT_REFUSED, refused
        assert "bj.0001_squashed_0003_b" in refused.stderr
        assert state_of(project.db) == before
    assert [str(v) for (v,) in project.db.rows(f"SELECT {column} FROM {table}")] == ["7"]

    # A fresh database, migrated by migtool alone.
    fresh = make_project(final, backend=backend)
    ok(fresh.migtool("migrate-safe"))
    assert_same_state(fresh.db, at_final, squashes)


@pytest.mark.backends
def test_nested_and_shared_squashes_migrate_and_roll_back_as_in_django(make_project: MakeProject, backend: str) -> None:
    """make test's run of the nested and shared squashes on PostgreSQL and MariaDB (on SQLite,
    the test above goes through the same round trip and every other command)."""
    if backend == "sqlite":
        pytest.skip("test_every_command_reaches_what_django_reaches runs this shape on SQLite")
    _, release, now = nested_and_shared_stages()
    migrate_and_roll_back_like_django(make_project, backend, release, now)


def assert_refused_like_django(result: Result, *phrases: str) -> None:
    """Exit 3 with one ``Error:`` line and a hint, no traceback."""
    assert result.code == EXIT_CONFIG, result
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Error", "Hint"], result
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result)


def test_dependency_on_a_name_no_squash_replaces_is_refused_like_django(make_project: MakeProject) -> None:
    """A squash of a squash lists the inner squash's name only (what ``squashmigrations``
    writes on 6.x); once the inner squash is deleted, a dependency on one of its
    originals names a migration nothing replaces: Django refuses, so does migtool."""
    stages = nested_and_shared_stages()
    broken = {
        **stages[2],
        "cal": {
            **stages[2]["cal"],
            "0004_old": stages[2]["cal"]["0003_z"].replace("('bj', '0001_squashed_0002_a')", "('bj', '0001_initial')"),
        },
    }
    broken["bj"]["0001_squashed_0003_b"] = broken["bj"]["0001_squashed_0003_b"].replace(
        "('bj', '0001_initial'), ('bj', '0002_a'), ", ""
    )
    project = make_project(broken)
    django = project.manage("showmigrations")
    assert django.code != EXIT_OK and "NodeNotFoundError" in django.stderr, django
    for command in (["freeze", "--release", "x"], ["status"], ["migrate-safe", "--plan"], ["doctor"]):
        assert_refused_like_django(project.migtool(*command), "cannot be loaded")
    assert not (project.root / "releases").exists()


def test_partly_applied_squash_with_dependents_on_gone_names_is_refused_like_django(make_project: MakeProject) -> None:
    """The documents squash is in use only when none or all of its originals are
    recorded.  With one of two recorded, Django drops it, and mail's dependency on
    documents.0001_initial points nowhere: ``migrate`` fails, and so does every
    migtool command on that database; commands without a database still work."""
    stages = squashed_apps_stages()
    project = make_project(stages[1])
    ok(project.manage("migrate", "documents", "0001_squashed_0002_body", "--noinput"))
    project.db.execute("DELETE FROM django_migrations WHERE app = 'documents' AND name <> '0001_initial'")
    django = project.manage("migrate", "--noinput")
    assert django.code != EXIT_OK and "documents" in django.stderr, django
    before = state_of(project.db)
    for command in (["status"], ["migrate-safe"], ["doctor", "--database", "default"]):
        assert_refused_like_django(project.migtool(*command), "documents.0001_squashed_0002_body", "only some")
    ok(project.migtool("freeze", "--release", "r2"))
    assert_refused_like_django(project.migtool("rollback", "r2", "--yes"), "only some")
    assert state_of(project.db) == before
