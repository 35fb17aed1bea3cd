"""Conformance: migtool against stock Django on random migration projects (issue 10).

For each project ``generated.histories`` draws, and a random release cut
(the code after some earlier batch):

1. a database is migrated by Django with the cut's code: the state Django
   reaches for that release (the oracle), and a release is frozen from those files;
2. with the last code on disk, Django's ``MigrationLoader`` loads the project iff
   migtool does, without a database and on that database, and migtool's
   effective graph equals Django's, node for node and edge for edge;
3. Django migrates the database fully, then ``migtool rollback CUT --yes`` must
   end exactly in the oracle's state, or refuse (exit 4, nothing changed)
   exactly when the model says it must: an irreversible migration outside the
   cut, or a cut inside a squash whose originals are gone.

``make test`` runs a few fixed examples on every backend; ``make
test-conformance`` (marker ``conformance``) runs many more.  Squashes of
squashes still on disk are drawn on Django 6.0+ only, and dependencies on a
name two migrations replace on 6.1+ only: earlier versions resolve those in
hash-seed order (README, "How merges, squashes and ``replaces`` are treated").
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

import django
import pytest
from generated import History, histories
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import assert_same_state, state_of
from projects import Project
from test_replaced_dependencies import move_code

MakeProject = Callable[..., Project]

NESTED_ON_DISK = django.VERSION >= (6, 0)
SHARED_WITH_EDGES = django.VERSION >= (6, 1)
EXAMPLES = int(os.environ.get("MIGTOOL_CONFORMANCE_EXAMPLES", "0"))

# Run inside the project: Django's graph and migtool's, without a database and on it.
GRAPHS = r"""
import json, django
django.setup()
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from migtool.django_adapter.loader import load_graph, load_recorded
from migtool.errors import MigtoolError

def edges(nodes, parents):
    return {f"{a}.{n}": sorted(f"{p[0]}.{p[1]}" for p in parents(a, n)) for a, n in sorted(nodes)}

result = {}
for view, conn in (("disk", None), ("db", connection)):
    try:
        graph = MigrationLoader(conn).graph
        result["django_" + view] = edges(graph.nodes, lambda a, n: [p.key for p in graph.node_map[(a, n)].parents])
    except Exception as exc:
        result["django_" + view] = type(exc).__name__ + ": " + str(exc)
    try:
        ours = load_graph().effective(frozenset(load_recorded(conn)) if conn else frozenset())
        result["migtool_" + view] = edges(ours.parents, lambda a, n: ours.parents[(a, n)])
    except MigtoolError as exc:
        result["migtool_" + view] = "MigtoolError: " + str(exc)
print(json.dumps(result))
"""


def check_project(make_project: MakeProject, backend: str, history: History, cut: int) -> None:
    final = history.code(len(history.batches) - 1)
    project = make_project(history.code(cut), backend=backend)
    migrated = project.manage("migrate", "--noinput")
    assert migrated.code == 0, migrated
    oracle = state_of(project.db)
    frozen = project.migtool("freeze", "--release", "cut")
    assert frozen.code == 0, frozen

    move_code(project, final)
    graphs = project.run([sys.executable, "-c", GRAPHS])
    assert graphs.code == 0, graphs
    views = json.loads(graphs.stdout)
    for view in ("disk", "db"):
        django_graph, ours = views["django_" + view], views["migtool_" + view]
        assert isinstance(django_graph, dict) == isinstance(ours, dict), (view, django_graph, ours)
        if isinstance(ours, dict):
            assert ours == django_graph, view
    if not isinstance(views["django_disk"], dict):
        refused = project.migtool("freeze", "--release", "final")
        assert refused.code == 3, refused
        return

    if not isinstance(views["django_db"], dict):
        # Django cannot go on from the cut's state with this code; migrate a fresh database.
        release = (project.root / "releases" / "cut.json").read_bytes()
        project = make_project(final, backend=backend)
        (project.root / "releases").mkdir()
        (project.root / "releases" / "cut.json").write_bytes(release)
    migrated = project.manage("migrate", "--noinput")
    assert migrated.code == 0, migrated
    before = state_of(project.db)
    done = project.migtool("rollback", "cut", "--yes")
    if history.expected_refusal(cut):
        assert done.code == 4, done
        assert state_of(project.db) == before
    else:
        assert done.code == 0, done
        assert_same_state(project.db, oracle, history.replaces())


cases = st.data()


def draw_case(data: st.DataObject) -> tuple[History, int]:
    history = data.draw(histories(nested_on_disk=NESTED_ON_DISK, shared_with_edges=SHARED_WITH_EDGES), "history")
    cut = data.draw(st.integers(-1, len(history.batches) - 2), "cut")
    return history, cut


@pytest.mark.backends
@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(cases)
def test_generated_projects_conform_to_django(make_project: MakeProject, backend: str, data: st.DataObject) -> None:
    check_project(make_project, backend, *draw_case(data))


@pytest.mark.conformance
@pytest.mark.skipif(not EXAMPLES, reason="the large budget runs under make test-conformance")
@pytest.mark.backends
@settings(max_examples=EXAMPLES or 1, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases)
def test_many_generated_projects_conform_to_django(
    make_project: MakeProject, backend: str, data: st.DataObject
) -> None:
    check_project(make_project, backend, *draw_case(data))
