"""The prediction matrix: the pre-flight says "passes" exactly when Django's real revert succeeds.

For every cell of ``preflight_matrix.CELLS``, on every backend, in a passing
and a failing state, ``migtool rollback --dry-run`` predicts the revert of the
cell's ``0002_step`` and then Django itself reverts it (``migrate APP
0001_initial``).  No false blocker, no missed failure, and both agree with
what the table says the database does.

One project and database per backend holds every cell (one app each, so the
reverts are independent): migrate forward once, write every cell's passing
rows, one dry run, every real revert; migrate forward again, write the failing
rows, one dry run, every real revert.  The outcomes are computed once per
backend and each parametrized test reads its own cell.

Where a rehearsal can be exact (SQLite, PostgreSQL), each cell's revert is also
rehearsed (``rollback --dry-run --rehearse``) over the same rows, just before
the real reverts: release ``only-<cell>`` is every app at ``0002_step`` but the
cell's, at ``0001_initial``, so its plan is that one step.  The rehearsal must
give Django's answer and leave the database as it found it; the real reverts
that follow would also trip over any schema it left behind.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from preflight_matrix import CELLS, DJANGO, PASSES, Cell, readme_table
from projects import Project, ProjectFactory, migration
from test_rollback import snapshot_db

STATES = ("passing", "failing")
INITIAL, STEP = "0001_initial", "0002_step"
REHEARSED_ON = ("sqlite", "postgresql")  # where the rehearsal's transaction can undo DDL
REHEARSAL_TEST = "test_rehearsal_gives_the_real_reverts_answer"

# Reverts each app named on the command line with Django's own migrate command.
REVERT_DRIVER = """\
import json
import sys

import django

django.setup()

from django.core.management import call_command
from django.db import connections

errors = {}
for app in sys.argv[1:]:
    try:
        call_command("migrate", app, "0001_initial", verbosity=0)
        errors[app] = None
    except Exception as exc:
        errors[app] = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # SQLite's failed foreign-key check leaves the wrapper inside a transaction
        # block even once closed: go on with a fresh one, as `migrate` would.
        connections["default"].close()
        connections["default"] = connections.create_connection("default")
print(json.dumps(errors))
"""


@dataclass(frozen=True)
class Outcome:
    """What the pre-flight said about one cell's step, and what Django's revert then did."""

    blockers: list[str]
    reported: str  # blockers, data loss and effects, for the names and counts
    django_error: str | None
    rehearsal: Rehearsed | None = None  # None where the backend cannot rehearse


@dataclass(frozen=True)
class Rehearsed:
    """What ``rollback only-<cell> --dry-run --rehearse`` answered, and whether it left the database alone."""

    code: int
    report: dict[str, Any]
    changed: str | None  # what the rehearsal changed in the database, or None


def cells_for_this_django() -> list[Cell]:
    return [cell for cell in CELLS if cell.since_django <= DJANGO]


def build_project(factory: ProjectFactory, cells: list[Cell], extra_settings: str = "") -> Project:
    """Every cell's app at 0001, frozen as release ``base``, then every 0002 written and applied."""
    apps = {cell.app: {INITIAL: migration(ops=cell.models, initial=True, preamble=cell.preamble)} for cell in cells}
    project = factory(apps, extra_settings=extra_settings)
    frozen = project.migtool("freeze", "--release", "base")
    assert frozen.ok, frozen
    for cell in cells:
        step = migration(deps=[(cell.app, INITIAL)], ops=[cell.step], preamble=cell.preamble)
        project.write_migration(cell.app, STEP, step)
    migrated = project.manage("migrate")
    assert migrated.ok, migrated
    return project


def freeze_each_step_alone(project: Project, cells: list[Cell]) -> None:
    """Release ``only-<cell>``: ``top`` (every app at 0002) with the cell's app as in ``base``."""
    frozen = project.migtool("freeze", "--release", "top")
    assert frozen.ok, frozen
    releases = project.root / "releases"
    base, top = (json.loads((releases / f"{name}.json").read_text()) for name in ("base", "top"))
    for cell in cells:
        alone = top | {"release": f"only-{cell.name}", "apps": top["apps"] | {cell.app: base["apps"][cell.app]}}
        (releases / f"only-{cell.name}.json").write_text(json.dumps(alone, indent=2, sort_keys=True))


def rehearse_each(project: Project, cells: list[Cell]) -> dict[str, Rehearsed]:
    """Rehearse every cell's revert alone; compare the cell's tables and the journal after each."""

    def cell_state(cell: Cell) -> tuple[Any, ...]:
        tables = sorted(t for t in project.db.tables() if t.startswith(f"{cell.app}_"))
        rows = [sorted(map(repr, project.db.rows(f"SELECT * FROM {t}"))) for t in tables]
        return project.db.applied(), [(t, project.db.columns(t)) for t in tables], rows

    before_all = snapshot_db(project)
    rehearsed = {}
    for cell in cells:
        before = cell_state(cell)
        result = project.migtool("rollback", f"only-{cell.name}", "--dry-run", "--rehearse", "--format", "json")
        after = cell_state(cell)
        changed = None if after == before else f"before {before}\nafter {after}"
        rehearsed[cell.name] = Rehearsed(result.code, json.loads(result.stdout), changed)
    assert snapshot_db(project) == before_all, "the rehearsals changed the database"
    return rehearsed


def run_state(project: Project, cells: list[Cell], state: str, rehearse: bool = False) -> dict[str, Outcome]:
    for cell in cells:
        for sql in (*cell.reset, *getattr(cell, state)):
            project.db.execute(sql)
    recorded = project.db.applied()
    dry = project.migtool("rollback", "base", "--dry-run", "--format", "json")
    assert dry.code in (0, 4), dry
    assert project.db.applied() == recorded, "the dry run changed django_migrations"
    steps = {step["app"]: step for step in json.loads(dry.stdout)["steps"]}
    assert sorted(steps) == sorted(cell.app for cell in cells), dry
    rehearsed = rehearse_each(project, cells) if rehearse else {}
    (project.root / "revert_driver.py").write_text(REVERT_DRIVER)
    reverted = project.run([sys.executable, "revert_driver.py", *(cell.app for cell in cells)])
    assert reverted.ok, reverted
    errors = json.loads(reverted.stdout)
    return {
        cell.name: Outcome(
            blockers=steps[cell.app]["blockers"],
            reported="\n".join(steps[cell.app]["blockers"] + steps[cell.app]["data_loss"] + steps[cell.app]["effects"]),
            django_error=errors[cell.app],
            rehearsal=rehearsed.get(cell.name),
        )
        for cell in cells
    }


def run_matrix(factory: ProjectFactory, rehearse: bool) -> dict[tuple[str, str], Outcome]:
    cells = cells_for_this_django()
    project = build_project(factory, cells)
    if rehearse:
        freeze_each_step_alone(project, cells)
    outcomes = {("passing", name): outcome for name, outcome in run_state(project, cells, "passing", rehearse).items()}
    migrated = project.manage("migrate")  # the passing reverts succeeded: forward again
    assert migrated.ok, migrated
    outcomes |= {("failing", name): outcome for name, outcome in run_state(project, cells, "failing", rehearse).items()}
    return outcomes


@pytest.fixture(scope="module")
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], dict[tuple[str, str], Outcome]]]:
    """``matrix(backend)``: every cell's outcomes on ``backend``, computed on first use.

    The rehearsals (some 30 s a backend) run only in a session that has selected their test.
    """
    runs: dict[str, Any] = {}
    rehearsing = any(item.name.startswith(REHEARSAL_TEST + "[") for item in request.session.items)
    factories: list[ProjectFactory] = []

    def outcomes(backend: str) -> dict[tuple[str, str], Outcome]:
        if backend not in runs:
            factories.append(ProjectFactory(Path(tmp_path_factory.mktemp(f"matrix-{backend}")), backend))
            try:
                runs[backend] = run_matrix(factories[-1], rehearsing and backend in REHEARSED_ON)
            except BaseException as exc:  # every cell of this backend reports the same failure
                runs[backend] = exc
        if isinstance(runs[backend], BaseException):
            raise runs[backend]
        return runs[backend]

    yield outcomes
    for factory in factories:
        factory.close()


@pytest.mark.backends
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("cell", CELLS, ids=[cell.name for cell in CELLS])
def test_preflight_predicts_the_real_revert(matrix: Any, backend: str, cell: Cell, state: str) -> None:
    if cell.since_django > DJANGO:
        pytest.skip(f"{cell.name} needs Django {'.'.join(map(str, cell.since_django))}+")
    outcome = matrix(backend)[state, cell.name]
    expected_ok = state == "passing" or not cell.revert_fails(backend)
    django_ok = outcome.django_error is None
    assert (not outcome.blockers) == django_ok, (
        f"pre-flight {'missed a failure' if django_ok is False else 'blocked a revert Django runs'}: "
        f"blockers={outcome.blockers} django={outcome.django_error!r}"
    )
    assert django_ok == expected_ok, f"the table says {getattr(cell, backend)!r}; Django: {outcome.django_error!r}"
    if state == "failing" and getattr(cell, backend) != PASSES:
        assert cell.reports in outcome.reported, outcome.reported


@pytest.mark.backends
@pytest.mark.default_leg
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("cell", CELLS, ids=[cell.name for cell in CELLS])
def test_rehearsal_gives_the_real_reverts_answer(matrix: Any, backend: str, cell: Cell, state: str) -> None:
    """``rollback only-<cell> --dry-run --rehearse``: Django's verdict on the step, and nothing changed."""
    if backend not in REHEARSED_ON:
        pytest.skip("MariaDB commits DDL: it refuses rehearsals (test_rehearsal.py)")
    if cell.since_django > DJANGO:
        pytest.skip(f"{cell.name} needs Django {'.'.join(map(str, cell.since_django))}+")
    outcome = matrix(backend)[state, cell.name]
    rehearsed = outcome.rehearsal
    assert rehearsed is not None and rehearsed.changed is None, f"the rehearsal changed the database: {rehearsed}"
    # Every cell's step is atomic, so no rehearsal here may be refused.
    assert "rehearsal" in rehearsed.report, rehearsed
    answer = rehearsed.report["rehearsal"]
    assert answer["steps"] == 1, answer  # the plan is the cell's one step
    if outcome.django_error is None:
        assert (rehearsed.code, answer["status"], answer["failed_step"]) == (0, "passed", None), rehearsed
    else:
        failed = (rehearsed.code, answer["status"], answer["failed_step"])
        assert failed == (4, "failed", f"{cell.app}.{STEP}"), f"Django: {outcome.django_error!r}; {rehearsed}"
        assert outcome.django_error in answer["error"], answer  # the database's own words, as Django got them


def test_readme_prints_the_matrix() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert readme_table() in readme, "README's 'what the pre-flight checks, per backend' is out of date:\n" + (
        readme_table()
    )


# MariaDB's verdict on the failing rows of these cells depends on sql_mode (backend_facts): a
# re-added date's zero date fails under NO_ZERO_DATE, strict or not; out-of-range numbers only in strict mode.
SQL_MODE_CELLS = {
    "STRICT_TRANS_TABLES,NO_ZERO_DATE": {"readddate": True, "intrange": True, "decimal": True},
    "NO_ZERO_DATE": {"readddate": True, "intrange": False, "decimal": False},
}


@pytest.mark.backends
@pytest.mark.default_leg
@pytest.mark.parametrize("sql_mode", SQL_MODE_CELLS)
def test_mariadb_verdicts_follow_the_connection_sql_mode(
    make_project: ProjectFactory, backend: str, sql_mode: str
) -> None:
    """The same failing rows, with the connection's sql_mode set by ``init_command``."""
    if backend != "mysql":
        pytest.skip("sql_mode is MariaDB/MySQL's")
    expected = SQL_MODE_CELLS[sql_mode]
    cells = [cell for cell in CELLS if cell.name in expected]
    settings = f"DATABASES['default']['OPTIONS']['init_command'] = \"SET sql_mode = '{sql_mode}'\""
    project = build_project(make_project, cells, settings)
    for name, outcome in run_state(project, cells, "failing").items():
        assert (outcome.django_error is not None) == expected[name], (name, outcome)
        assert bool(outcome.blockers) == expected[name], (name, outcome)
