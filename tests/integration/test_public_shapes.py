"""The migration-graph shapes of large public Django projects, rebuilt (issue 10).

``shapes/*.json`` hold only the names, ``dependencies``, ``replaces`` and
``run_before`` of every migration of a public project at one commit (its
``source``), read from its files; no code of theirs is kept.  Operations are
stand-ins: each migration creates one table per squash-free name it stands for
(a squash: one per name it replaces), reversibly, so the schema shows exactly
which migrations are applied.

* ``paperless-ngx``: apps squashed with the originals deleted, a squash whose
  dependency names a replaced original of another app (the shape of issue 10),
  a squash replacing a name that never existed on that branch.
* ``saleor``: 1,400 migrations in 26 apps, 187 merge migrations, 25 squashes
  of deleted originals, ``run_before``.

Both go through Django's loader and migtool's (same nodes and edges) and
``freeze``.  A deploy and its undo (``migrate_and_roll_back_like_django``:
Django migrates the release, ``migrate-safe`` goes on to the newer code,
``rollback`` returns), each end compared with stock Django's ``migrate``, runs

* in ``make test`` on every backend for a lean saleor: the 45 migrations of
  its history up to two of its merges, with six squashes of deleted originals
  and cross-app dependencies (a few seconds per backend);
* for paperless-ngx on SQLite in ``make test``, and on every backend under
  ``make test-conformance``, which also runs the whole of saleor (1,400
  migrations per run).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from projects import Project, migration
from test_conformance import GRAPHS
from test_replaced_dependencies import migrate_and_roll_back_like_django

from migtool.core.graph import reachable

MakeProject = Callable[..., Project]
Key = tuple[str, str]
Shape = dict[str, dict[str, dict[str, list[Key]]]]
SHAPES = Path(__file__).parent / "shapes"
FULL = bool(os.environ.get("MIGTOOL_CONFORMANCE_EXAMPLES"))


def load_shape(name: str) -> Shape:
    """The shape, every app label prefixed with ``x_`` (labels like ``site`` or ``csv``
    would be shadowed by the standard library's modules of that name)."""
    data = json.loads((SHAPES / f"{name}.json").read_text())
    return {
        f"x_{app}": {m: {f: [(f"x_{a}", n) for a, n in keys] for f, keys in e.items()} for m, e in migs.items()}
        for app, migs in data["apps"].items()
    }


def table(key: Key) -> str:
    return "t_" + hashlib.sha1(f"{key[0]}.{key[1]}".encode()).hexdigest()[:20]


def stand_in(key: Key, entry: dict[str, list[Key]], replaces: dict[Key, list[Key]]) -> str:
    """The migration's source: one table per squash-free name it stands for."""
    names, pending = set(), list(entry.get("replaces") or [key])
    while pending:
        name = pending.pop()
        if replaces.get(name) and name != key:
            pending.extend(replaces[name])
        else:
            names.add(name)
    ops = [f"migrations.RunSQL('CREATE TABLE {table(n)} (id integer)', 'DROP TABLE {table(n)}')" for n in sorted(names)]
    return migration(
        deps=entry.get("dependencies", []),
        ops=ops,
        replaces=entry.get("replaces") or None,
        run_before=entry.get("run_before", []),
    )


def code(shape: Shape, leave_out: set[Key] = frozenset()) -> dict:
    replaces = {(a, m): e["replaces"] for a, migs in shape.items() for m, e in migs.items() if e.get("replaces")}
    return {
        app: {m: stand_in((app, m), e, replaces) for m, e in migs.items() if (app, m) not in leave_out}
        for app, migs in shape.items()
    }


def newest(shape: Shape, rounds: int) -> set[Key]:
    """Per app and round, the newest migration nothing else needs (as a dependency or in its
    ``run_before``) that is no squash and no merge: left out, they give the code of an earlier
    release, with one leaf per app as on disk."""
    dropped: set[Key] = set()
    for _ in range(rounds):
        kept = {(a, m): e for a, migs in shape.items() for m, e in migs.items() if (a, m) not in dropped}
        needed = {tuple(d) for e in kept.values() for d in (*e.get("dependencies", []), *e.get("run_before", []))}
        for app in shape:
            mine = [(a, m) for a, m in kept if a == app]
            free = sorted(
                k
                for k in mine
                if k not in needed
                and not kept[k].get("replaces")
                and not kept[k].get("run_before")
                and sum(d[0] == app for d in kept[k].get("dependencies", [])) < 2
            )
            if free and len(mine) > 1:
                dropped.add(free[-1])
    return dropped


def same_graph(project: Project) -> dict:
    graphs = project.run([sys.executable, "-c", GRAPHS])
    assert graphs.code == 0, graphs
    views = json.loads(graphs.stdout)
    assert isinstance(views["django_disk"], dict), views["django_disk"]
    assert views["migtool_disk"] == views["django_disk"]
    return views["django_disk"]


def history_up_to(shape: Shape, tips: tuple[Key, ...]) -> Shape:
    """The part of ``shape`` that ``tips`` need: they and every migration they depend on."""

    def dependencies(key: Key) -> list[Key]:
        return [d for d in shape[key[0]][key[1]].get("dependencies", []) if d[1] in shape.get(d[0], {})]

    wanted = reachable(tips, dependencies)
    apps = {app for app, _ in wanted}
    return {app: {m: e for m, e in migs.items() if (app, m) in wanted} for app, migs in shape.items() if app in apps}


def keys(shape: Shape) -> set[Key]:
    return {(app, m) for app, migs in shape.items() for m in migs}


def roll_back_like_django(make_project: MakeProject, backend: str, shape: Shape, after: set[Key]) -> None:
    """Deploy ``shape`` over the release that lacks ``after`` and undo it, as Django would."""
    migrate_and_roll_back_like_django(make_project, backend, code(shape, after), code(shape))


@pytest.mark.parametrize("name", ["paperless-ngx", "saleor"])
def test_public_shape_loads_and_freezes_as_in_django(make_project: MakeProject, name: str) -> None:
    shape = load_shape(name)
    project = make_project(code(shape))
    nodes = same_graph(project)
    frozen = project.migtool("freeze", "--release", "now", "--format", "json")
    assert frozen.code == 0, frozen
    plan = project.migtool("migrate-safe", "--plan", "--format", "json")
    assert plan.code == 0, plan
    assert sorted(s["migration"] for s in json.loads(plan.stdout)["steps"]) == sorted(nodes)


@pytest.mark.backends
def test_squashed_apps_of_paperless_ngx_migrate_and_roll_back_as_in_django(
    make_project: MakeProject, backend: str
) -> None:
    if backend != "sqlite" and not FULL:
        pytest.skip("make test runs it on SQLite (test_replaced_dependencies has the shape on every backend)")
    shape = load_shape("paperless-ngx")
    roll_back_like_django(make_project, backend, shape, newest(shape, 2))


@pytest.mark.conformance
@pytest.mark.skipif(not FULL, reason="1,400 migrations per run: make test-conformance runs it")
@pytest.mark.backends
def test_saleor_migrates_and_rolls_back_as_in_django(make_project: MakeProject, backend: str) -> None:
    shape = load_shape("saleor")
    roll_back_like_django(make_project, backend, shape, newest(shape, 2))


# make test's saleor on every backend: its history up to checkout's 0003 and product's 0028
# merge (45 migrations in 3 apps: six squashes of the renamed cart app's deleted originals,
# three merges, cross-app dependencies), rolled back to a release 15 migrations earlier (two
# squashes, both merges of product and the parallel branch they close).
SALEOR_NOW = (("x_checkout", "0003_auto_20170906_0556"), ("x_product", "0028_merge_20170116_1016"))
SALEOR_RELEASE = (("x_checkout", "0001_auto_20170113_0435"), ("x_product", "0022_auto_20161212_0301"))


@pytest.mark.backends
def test_a_lean_saleor_migrates_and_rolls_back_as_in_django(make_project: MakeProject, backend: str) -> None:
    saleor = load_shape("saleor")
    now = history_up_to(saleor, SALEOR_NOW)
    roll_back_like_django(make_project, backend, now, keys(now) - keys(history_up_to(saleor, SALEOR_RELEASE)))
