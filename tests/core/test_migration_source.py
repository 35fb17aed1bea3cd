"""The static reader of migration sources and the graph built from what it reads.

What Django itself makes of these shapes is checked end to end in
``tests/integration/test_freeze_git.py`` (a freeze of a real checkout is the
oracle); these tests pin the reader's rules and refusals one by one.
"""

from __future__ import annotations

import textwrap

import pytest

from migtool.core.graph import MigrationKey
from migtool.core.migration_source import MigrationSource, Swappable, read_migration
from migtool.core.source_graph import Installed, SourceFile, TreeEntry, build_graph, migration_files
from migtool.errors import UnreadableSourceError


def src(body: str, head: str = "from django.db import migrations\n") -> bytes:
    return (head + "\n" + textwrap.dedent(body)).encode()


def test_defaults_are_djangos() -> None:
    assert read_migration(src("class Migration(migrations.Migration):\n    pass\n")) == MigrationSource()


def test_literal_attributes_and_swappable_dependencies() -> None:
    source = read_migration(
        src(
            """
            from django.conf import settings

            class Migration(migrations.Migration):
                \"\"\"Docstring.\"\"\"
                initial = True
                atomic = False
                replaces = [("shop", "0001_a"), ("shop", "0002_b")]
                run_before = (("other", "0001_x"),)
                dependencies = [
                    migrations.swappable_dependency(settings.AUTH_USER_MODEL),
                    ("shop", "__first__"),
                ]
                dependencies = [("shop", "__latest__")]  # the last binding wins, as on import
                operations = [migrations.RunPython(lambda a, s: None)]

                def helper(self):
                    dependencies = compute()  # a local of a method: not the class attribute
                    return dependencies
            """
        )
    )
    assert source == MigrationSource(
        dependencies=(("shop", "__latest__"),),
        replaces=(("shop", "0001_a"), ("shop", "0002_b")),
        run_before=(("other", "0001_x"),),
        initial=True,
        atomic=False,
    )
    swappable = read_migration(
        src("class Migration(migrations.Migration):\n    dependencies = [swappable_dependency(settings.X)]\n")
    )
    assert swappable.dependencies == (Swappable("X"),)


def test_flags_computed_at_import_time_are_reported_not_refused() -> None:
    source = read_migration(src("class Migration(migrations.Migration):\n    atomic = not SQLITE\n    initial = 1\n"))
    assert source.dynamic == ("initial", "atomic")
    assert (source.initial, source.atomic) == (None, True)


def test_a_coding_cookie_is_honoured() -> None:
    text = (
        "# -*- coding: latin-1 -*-\nfrom django.db import migrations\n# café\n"
        "class Migration(migrations.Migration):\n    dependencies = [('caf\xe9', '0001')]\n"
    )
    assert read_migration(text.encode("latin-1")).dependencies == (("café", "0001"),)


REFUSED = {
    "concatenated": ("    dependencies = BASE + [('a', '0001')]\n", "dependencies is computed at import time"),
    "augmented": ("    dependencies = []\n    dependencies += [('a', '0001')]\n", "Migration sets dependencies in a"),
    "conditional": ("    if X:\n        replaces = [('a', '0001')]\n", "Migration sets replaces in a if statement"),
    "comprehension": ("    replaces = [('a', n) for n in NAMES]\n", "replaces is computed at import time"),
    "element": ("    dependencies = [('a', NAME)]\n", "dependencies holds ('a', NAME), which is computed"),
    "list element": ("    dependencies = [['a', '0001']]\n", "which is not an ('app_label', 'name') tuple"),
    "call": ("    run_before = [helper()]\n", "run_before holds helper()"),
    "unpacking": ("    dependencies, replaces = [], []\n", "unpacks into its attributes"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_graph_attributes_that_are_not_literals_are_refused(case: str) -> None:
    body, reason = REFUSED[case]
    with pytest.raises(UnreadableSourceError) as caught:
        read_migration(src(f"class Migration(migrations.Migration):\n{body}"))
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (b"print 'python 2'\n", "does not parse with this Python (Missing parentheses"),
        (b"x = 1\0\n", "does not parse with this Python"),
        (b"from django.db import migrations\n", "has no Migration class"),
        (b"from .base import Migration\n", "Migration is not a class statement here"),
        (b"class Migration(Base):\n    pass\n", "Migration derives from Base"),
        (b"if X:\n    class Migration:\n        pass\n", "defined conditionally"),
        (b"class Migration(migrations.Migration):\n    pass\nMigration = wrap(Migration)\n", "not a class statement"),
    ],
)
def test_files_django_would_not_read_the_same_way_are_refused(source: bytes, reason: str) -> None:
    with pytest.raises(UnreadableSourceError) as caught:
        read_migration(source)
    assert reason in caught.value.reason


# --------------------------------------------------------------------------- discovery


def entries(*paths: str) -> list[TreeEntry]:
    return [TreeEntry(p, "100644", f"{i:040x}") for i, p in enumerate(paths)]


def test_migration_files_follow_pkgutil_and_djangos_filters() -> None:
    found = migration_files(
        "app/migrations",
        entries(
            "app/migrations/__init__.py",
            "app/migrations/0001_a.py",
            "app/migrations/_helper.py",
            "app/migrations/~0002.py",
            "app/migrations/0003_sub.py",
            "app/migrations/0003_sub/__init__.py",  # a package shadows the module of the same name
            "app/migrations/data/0004.py",  # a directory without __init__ is skipped
            "app/migrations/0005.x.py",  # a dotted name is no module name
            "app/migrations/0006_c.pyc",
            "app/migrations/README.md",
        ),
    )
    assert found is not None and sorted(found) == ["0001_a", "0006_c"]
    assert migration_files("app/migrations", entries("app/migrations/0001_a.py")) is None  # a namespace package


# --------------------------------------------------------------------------- graph


def files(app: str, **sources: MigrationSource) -> dict[str, SourceFile]:
    return {name: SourceFile(f"{app}/migrations/{name}.py", s, "0" * 64) for name, s in sources.items()}


def parents(graph: object, app: str, name: str) -> tuple[MigrationKey, ...]:
    return graph.nodes[MigrationKey(app, name)].parents  # type: ignore[attr-defined]


def test_first_latest_run_before_and_swappable_resolve_as_djangos_check_key() -> None:
    apps = {
        "a": files(
            "a",
            m1=MigrationSource(dependencies=(("a", "__first__"),)),  # same app: ignored
            m2=MigrationSource(dependencies=(("a", "m1"),)),
        ),
        "b": files(
            "b",
            x=MigrationSource(
                dependencies=(("a", "__first__"), Swappable("AUTH_USER_MODEL"), ("empty", "__first__")),
                run_before=(("a", "m2"),),
            ),
            y=MigrationSource(dependencies=(("b", "x"), ("a", "__latest__"))),
        ),
    }
    installed = Installed(labels=frozenset({"a", "b", "empty"}), settings={"AUTH_USER_MODEL": "a.User"})
    graph = build_graph(apps, installed)
    assert parents(graph, "a", "m1") == ()
    assert parents(graph, "a", "m2") == (MigrationKey("a", "m1"), MigrationKey("b", "x"))
    assert parents(graph, "b", "x") == (MigrationKey("a", "m1"),)
    assert parents(graph, "b", "y") == (MigrationKey("a", "m2"), MigrationKey("b", "x"))


def test_edges_to_apps_not_frozen_are_dropped() -> None:
    apps = {"a": files("a", m1=MigrationSource(dependencies=(("auth", "0012_x"), ("auth", "__latest__"))))}
    graph = build_graph(apps, Installed(labels=frozenset({"a", "auth"}), external=frozenset({"auth"})))
    assert parents(graph, "a", "m1") == ()


@pytest.mark.parametrize(
    ("dependency", "settings", "reason"),
    [
        (("a", "m9"), {}, "it depends on a.m9, which does not exist there"),
        (("gone", "__first__"), {}, "no app 'gone' is installed today"),
        (("gone", "0001"), {}, "it depends on gone.0001, which does not exist there"),
        (Swappable("AUTH_USER_MODEL"), {"AUTH_USER_MODEL": None}, "settings.AUTH_USER_MODEL, which is not set"),
    ],
)
def test_dependencies_django_would_reject_name_the_file(dependency: object, settings: dict, reason: str) -> None:
    apps = {"a": files("a", m1=MigrationSource(dependencies=(dependency,)))}  # type: ignore[arg-type]
    with pytest.raises(UnreadableSourceError) as caught:
        build_graph(apps, Installed(labels=frozenset({"a"}), settings=settings))
    assert reason in caught.value.reason
    assert caught.value.details["path"] == "a/migrations/m1.py" and caught.value.details["app"] == "a"


def test_dependencies_on_names_only_a_squash_replaces_resolve_to_the_squash() -> None:
    """The issue-10 shape read from git: ``mail`` depends on ``documents.0001_initial``,
    which is gone from the tree and named only in ``documents.0001_squashed``'s
    ``replaces``; its ``run_before`` names ``notes.0001_a``, gone the same way."""
    apps = {
        "documents": files(
            "documents", **{"0001_squashed": MigrationSource(replaces=(("documents", "0001_initial"),))}
        ),
        "notes": files("notes", **{"0001_squashed": MigrationSource(replaces=(("notes", "0001_a"),))}),
        "mail": files(
            "mail",
            m1=MigrationSource(dependencies=(("documents", "0001_initial"),), run_before=(("notes", "0001_a"),)),
        ),
    }
    graph = build_graph(apps, Installed(labels=frozenset({"documents", "notes", "mail"})))
    mail = MigrationKey("mail", "m1")
    assert parents(graph, "mail", "m1") == (MigrationKey("documents", "0001_initial"),)
    assert graph.nodes[mail].before == (MigrationKey("notes", "0001_a"),)
    assert graph.declared.parents[mail] == (MigrationKey("documents", "0001_squashed"),)
    assert graph.declared.parents[MigrationKey("notes", "0001_squashed")] == (mail,)


def test_a_dependency_on_a_gone_name_no_squash_replaces_is_still_refused() -> None:
    apps = {
        "documents": files(
            "documents", **{"0001_squashed": MigrationSource(replaces=(("documents", "0001_initial"),))}
        ),
        "mail": files("mail", m1=MigrationSource(dependencies=(("documents", "0002_gone"),))),
    }
    with pytest.raises(UnreadableSourceError) as caught:
        build_graph(apps, Installed(labels=frozenset({"documents", "mail"})))
    assert "documents.0002_gone, which does not exist there" in caught.value.reason
