"""``freeze --git-ref`` / ``--git-tags``: past releases read from git objects, checked against
a ``freeze`` run on a real checkout of the same ref (the oracle), on real repositories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from git_repos import GitProject, git, read_release
from projects import Project, migration
from scenarios import CAT, ITEM, add_field, create_model

CONTRIB = ["django.contrib.contenttypes", "django.contrib.auth"]
SETTINGS = f'AUTH_USER_MODEL = "auth.User"\nINSTALLED_APPS = {CONTRIB!r} + INSTALLED_APPS\n'
B_FIELD = add_field("Item", "b", "models.IntegerField(null=True)")
D_FIELD = add_field("Cat", "d", "models.IntegerField(null=True)")
SQUASHED = ("0001_initial", "0002_b", "0002_c", "0002_d", "0003_merge")
USER_FK = "models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)"
SWAPPABLE = "from django.conf import settings\n"


def swappable_migration(deps: list[tuple[str, str]], ops: list[str]) -> str:
    """A migration whose first dependency is ``migrations.swappable_dependency(settings.AUTH_USER_MODEL)``."""
    source = migration(deps=deps, ops=ops, preamble=SWAPPABLE)
    return source.replace(
        "    dependencies = [", "    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL), ", 1
    )


def with_run_before(source: str, run_before: list[tuple[str, str]]) -> str:
    return source.replace("    dependencies =", f"    run_before = {run_before!r}\n    dependencies =", 1)


def history(make_project: Any) -> GitProject:
    """A repository with four releases: lightweight and annotated tags, a branch merged
    with a merge migration, ``run_before``, a swappable dependency, a squash (originals
    kept, then deleted), and a ``replaces`` of a migration that never existed."""
    project: Project = make_project(
        {"shop": {"0001_initial": migration(ops=[ITEM], initial=True)}}, extra_settings=SETTINGS
    )
    repo = GitProject.init(project)
    repo.commit("shop 0001")
    repo.tag("v1.0")  # lightweight

    repo.git("checkout", "-q", "-b", "feature")
    project.write_migration("shop", "0002_b", migration(deps=[("shop", "0001_initial")], ops=[B_FIELD]))
    repo.commit("shop 0002_b on a branch")
    repo.git("checkout", "-q", "main")
    project.write_migration("shop", "0002_c", migration(deps=[("shop", "0001_initial")], ops=[CAT]))
    lead = swappable_migration([("shop", "0001_initial")], [create_model("Lead", owner=USER_FK)])
    project.add_app("crm", {"0001_initial": with_run_before(lead, [("shop", "0002_c")])})
    repo.commit("shop 0002_c, crm with a swappable dependency and run_before")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    project.write_migration("shop", "0003_merge", migration(deps=[("shop", "0002_b"), ("shop", "0002_c")]))
    # Same-app run_before: 0003_merge depends on 0002_d, or shop would have two leaves.
    d = migration(deps=[("shop", "0002_c")], ops=[D_FIELD])
    project.write_migration("shop", "0002_d", with_run_before(d, [("shop", "0003_merge")]))
    repo.commit("merge migration, and 0002_d that runs before it")
    repo.tag("v1.1", annotated=True)

    # A squash commit (git merge --squash) of a branch that adds app bj in two commits.
    repo.git("checkout", "-q", "-b", "bj-work")
    project.add_app("bj", {"0001_a": migration(ops=[create_model("Thing")], atomic=False)})
    repo.commit("bj 0001_a")
    patch = migration(deps=[("bj", "0001_a")], replaces=[("bj", "0002_never_existed")])
    project.write_migration("bj", "0002_patch", patch)
    repo.commit("bj 0002_patch replaces a migration that never existed")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--squash", "bj-work")
    replaced = [("shop", n) for n in SQUASHED]
    project.write_migration(
        "shop",
        "0001_squashed_0003_merge",
        migration(ops=[ITEM, B_FIELD, CAT, D_FIELD], replaces=replaced, initial=True),
    )
    # With 0002_c squashed, crm's run_before would point at the squash, which stands
    # for shop.0001_initial too, that crm depends on: a cycle Django's loader refuses
    # (CircularDependencyError). The squash commit drops it, as its author must.
    project.write_migration("crm", "0001_initial", lead)
    repo.commit("squash-merge bj; squash shop's migrations")
    repo.tag("v2.0", annotated=True)

    for name in SQUASHED:
        project.remove_migration("shop", name)
    crm = lead.replace("('shop', '0001_initial')", "('shop', '0001_squashed_0003_merge')")
    project.write_migration("crm", "0001_initial", crm)
    price = add_field("Item", "price", "models.IntegerField(default=0)")
    project.write_migration("shop", "0002_price", migration(deps=[("shop", "0001_squashed_0003_merge")], ops=[price]))
    repo.commit("delete the squashed originals")
    repo.tag("v3.0")
    return repo


TAGS = {"v1.0": "1.0", "v1.1": "1.1", "v2.0": "2.0", "v3.0": "3.0"}


def _without_source(release: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in release.items() if k != "source"}


def test_every_tag_equals_a_freeze_of_its_checkout(make_project: Any, tmp_path: Path) -> None:
    repo = history(make_project)
    project = repo.project
    oracle = tmp_path / "oracle"
    current = tmp_path / "current"
    result = project.migtool(
        "freeze",
        "--git-tags",
        "v*",
        "--name-from-tag",
        "s/^v//",
        "--external",
        "current",
        "--releases-dir",
        str(current),
        "--format",
        "json",
    )
    assert result.code == 0, result
    table = json.loads(result.stdout)
    assert [r["release"] for r in table["releases"]] == sorted(TAGS.values())
    for tag, release in TAGS.items():
        expected = repo.checkout_freeze(tag, release, oracle)
        frozen = read_release(current, release)
        commit = repo.git("rev-parse", f"{tag}^{{commit}}").strip()
        assert frozen["source"] == {"git_ref": tag, "commit": commit, "external_apps": "current"}
        assert _without_source(frozen) == expected, tag
        assert (current / f"{release}.json").read_text() != "", tag
    # The release contents really differ from tag to tag (the oracle is not trivially empty).
    assert read_release(oracle, "1.1")["apps"]["shop"]["leaves"] == ["0003_merge"]
    assert "0002_d" in read_release(oracle, "1.1")["apps"]["shop"]["migrations"]
    assert read_release(oracle, "2.0")["apps"]["shop"]["squashes"]
    assert read_release(oracle, "2.0")["apps"]["bj"]["squashes"] == {"0002_patch": ["bj.0002_never_existed"]}
    assert "auth" in read_release(oracle, "3.0")["apps"]

    # By default, apps outside the repository are listed as external, not frozen.
    unknown = tmp_path / "unknown"
    result = project.migtool("freeze", "--release", "1.1", "--git-ref", "v1.1", "--releases-dir", str(unknown))
    assert result.code == 0, result
    assert "Not frozen (outside the repository; rollback leaves them alone): auth, contenttypes." in result.stderr
    frozen = read_release(unknown, "1.1")
    assert (frozen["external"], frozen["format_version"]) == (["auth", "contenttypes"], 2)
    expected = read_release(oracle, "1.1")
    assert frozen["apps"] == {k: v for k, v in expected["apps"].items() if k not in ("auth", "contenttypes")}


def test_checksums_follow_line_ending_conversion_of_a_checkout(make_project: Any, tmp_path: Path) -> None:
    """With ``eol=crlf`` a checkout writes CRLF files; the checksums must be those of that checkout."""
    project = make_project({"shop": {"0001_initial": migration(ops=[ITEM])}})
    (project.root / ".gitattributes").write_text("*.py text eol=crlf\n")
    repo = GitProject.init(project)
    repo.commit("shop")
    repo.tag("v1")
    oracle, frozen = tmp_path / "oracle", tmp_path / "git"
    expected = repo.checkout_freeze("v1", "1", oracle)
    result = project.migtool("freeze", "--release", "1", "--git-ref", "v1", "--releases-dir", str(frozen))
    assert result.code == 0, result
    assert _without_source(read_release(frozen, "1")) == expected
    blob = repo.git("cat-file", "blob", "v1:shop/migrations/0001_initial.py").encode()
    assert hashlib.sha256(blob).hexdigest() != expected["apps"]["shop"]["checksums"]["0001_initial"]


OWN_APP = {"squashed": [], "upstream": False, "distribution": {"old": None, "new": None}}  # own apps, no squash


def test_releases_and_diff_across_both_kinds(make_project: Any, tmp_path: Path) -> None:
    repo = history(make_project)
    releases = tmp_path / "releases"
    repo.checkout_freeze("v2.0", "2.0", releases)
    result = repo.project.migtool("freeze", "--release", "3.0", "--git-ref", "v3.0", "--releases-dir", str(releases))
    assert result.code == 0, result
    listing = repo.project.migtool("releases", "--releases-dir", str(releases), "--format", "json")
    assert listing.code == 0, listing
    by_name = {r["name"]: r for r in json.loads(listing.stdout)["releases"]}
    assert by_name["2.0"]["source"] is None
    assert by_name["3.0"]["source"]["git_ref"] == "v3.0"
    assert by_name["3.0"]["not_frozen"] == ["auth", "contenttypes"]
    table = repo.project.migtool("releases", "--releases-dir", str(releases))
    assert "git v3.0 @ " in table.stdout and "code" in table.stdout, table
    changes = repo.project.migtool("diff", "2.0", "3.0", "--releases-dir", str(releases), "--format", "json")
    assert changes.code == 0, changes
    body = json.loads(changes.stdout)
    assert body["not_compared"] == ["auth", "contenttypes"]
    assert body["apps"] == [
        {"app": "crm", "added": [], "removed": [], "edited": ["0001_initial"], **OWN_APP},
        {"app": "shop", "added": ["0002_price"], "removed": [], "edited": [], **OWN_APP},  # originals: in the squash
    ]


# --------------------------------------------------------------------------- refusals


def _refused(project: Project, out: Path, *args: str) -> str:
    """Run a freeze that must be refused with exit 4 and write nothing; return stderr."""
    result = project.migtool("freeze", *args, "--releases-dir", str(out))
    assert result.code == 4, result
    assert "Traceback" not in result.output, result
    assert result.stderr.startswith("Error: ") and "\nHint: " in result.stderr, result
    assert not out.exists() or not list(out.iterdir()), result
    return result.stderr


UNREADABLE = {
    "computed dependencies": (
        migration(deps=[("shop", "0001_initial")]).replace("    dependencies = [", "    dependencies = EXTRA + ["),
        "dependencies is computed at import time (EXTRA + [('shop', '0001_initial')])",
    ),
    "computed replaces": (
        migration(deps=[("shop", "0001_initial")]).replace(
            "    dependencies =", "    replaces = [('shop', n) for n in NAMES]\n    dependencies ="
        ),
        "replaces is computed at import time",
    ),
    "python 2 syntax": (
        migration(deps=[("shop", "0001_initial")]) + 'print "done"\n',
        "it does not parse with this Python",
    ),
    "custom base class": (
        migration(deps=[("shop", "0001_initial")]).replace("(migrations.Migration)", "(BaseMigration)"),
        "Migration derives from BaseMigration",
    ),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_unreadable_migrations_are_refused_naming_file_and_ref(make_project: Any, tmp_path: Path, case: str) -> None:
    source, reason = UNREADABLE[case]
    project = make_project({"shop": {"0001_initial": migration(ops=[ITEM])}, "crm": {"0001_a": migration()}})
    project.write_migration("shop", "0002_x", source)
    repo = GitProject.init(project)
    repo.commit("an unreadable migration")
    repo.tag("v1")
    stderr = _refused(project, tmp_path / "out", "--release", "1", "--git-ref", "v1")
    assert "Cannot freeze v1 from git: shop/migrations/0002_x.py (app 'shop'): " in stderr
    assert reason in stderr
    # --skip-unreadable writes the release without that app, and says why in the file.
    out = tmp_path / "skipped"
    result = project.migtool(
        "freeze", "--release", "1", "--git-ref", "v1", "--skip-unreadable", "--releases-dir", str(out)
    )
    assert result.code == 0, result
    frozen = read_release(out, "1")
    assert sorted(frozen["apps"]) == ["crm"]
    assert frozen["unreadable"]["shop"].startswith("shop/migrations/0002_x.py: ")
    assert reason in frozen["unreadable"]["shop"]


def test_a_renamed_app_folder_is_refused(make_project: Any, tmp_path: Path) -> None:
    project = make_project({"shop": {"0001_initial": migration(ops=[ITEM])}})
    repo = GitProject.init(project)
    repo.commit("shop")
    repo.tag("v1")
    repo.git("mv", "shop", "store")
    (project.root / "store" / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\nclass StoreConfig(AppConfig):\n    name = 'store'\n    label = 'shop'\n"
    )
    settings = project.root / "settings.py"
    settings.write_text(settings.read_text().replace("INSTALLED_APPS = ['shop']", "INSTALLED_APPS = ['store']"))
    repo.commit("rename the shop folder to store, keeping the label")
    assert project.migtool("freeze", "--release", "now", "--releases-dir", str(tmp_path / "now")).code == 0
    stderr = _refused(project, tmp_path / "out", "--release", "1", "--git-ref", "v1")
    assert "Cannot freeze v1 from git: shop/migrations (app 'shop'): " in stderr
    assert "keeps its migrations in store/migrations today" in stderr


def test_tag_backfill_is_all_or_nothing_skips_existing_and_forces(make_project: Any, tmp_path: Path) -> None:
    project = make_project({"shop": {"0001_initial": migration(ops=[ITEM])}})
    repo = GitProject.init(project)
    repo.commit("shop")
    repo.tag("v1")
    project.write_migration("shop", "0002_b", migration(deps=[("shop", "0001_initial")], ops=[B_FIELD]))
    repo.commit("0002_b")
    repo.tag("v2", annotated=True)
    project.write_migration("shop", "0003_bad", UNREADABLE["python 2 syntax"][0].replace("0001_initial", "0002_b"))
    repo.commit("an unreadable migration")
    repo.tag("v3")
    out = tmp_path / "out"
    stderr = _refused(project, out, "--git-tags", "v*")
    assert "Cannot freeze v3 from git: shop/migrations/0003_bad.py" in stderr
    repo.git("tag", "-d", "v3")
    result = project.migtool("freeze", "--git-tags", "v*", "--name-from-tag", "s/^v//", "--releases-dir", str(out))
    assert result.code == 0, result
    assert "Froze 2 release(s) from 2 tag(s)" in result.stderr
    assert read_release(out, "2")["apps"]["shop"]["leaves"] == ["0002_b"]
    (out / "1.json").write_text((out / "1.json").read_text().replace('"release": "1"', '"release": "1" '))
    before = (out / "1.json").read_text()
    again = project.migtool(
        "freeze", "--git-tags", "v*", "--name-from-tag", "s/^v//", "--releases-dir", str(out), "--format", "json"
    )
    assert again.code == 0, again
    assert [r["written"] for r in json.loads(again.stdout)["releases"]] == [False, False]
    assert (out / "1.json").read_text() == before
    forced = project.migtool(
        "freeze", "--git-tags", "v*", "--name-from-tag", "s/^v//", "--force", "--releases-dir", str(out)
    )
    assert forced.code == 0, forced
    assert (out / "1.json").read_text() != before


def test_a_shallow_clone_without_tags_says_how_to_fetch_them(make_project: Any, tmp_path: Path) -> None:
    project = make_project({"shop": {"0001_initial": migration(ops=[ITEM])}})
    repo = GitProject.init(project)
    repo.commit("shop")
    repo.tag("v1")
    repo.commit("later")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-tags", f"file://{project.root}", str(shallow))
    clone = Project(root=shallow, db=project.db, apps=project.apps, env=dict(project.env))
    for args in (["--git-tags", "v*"], ["--release", "1", "--git-ref", "v1"]):
        result = clone.migtool("freeze", *args, "--releases-dir", str(tmp_path / "out"))
        assert result.code == 2, result
        assert "Hint: This is a shallow clone: run 'git fetch --tags --unshallow' first." in result.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- rollback


@pytest.mark.backends
def test_rollback_to_a_git_frozen_release_ends_where_a_checkout_frozen_one_does(
    make_project: Any, tmp_path: Path
) -> None:
    lead = swappable_migration([("shop", "0001_initial")], [create_model("Lead", owner=USER_FK)])
    project: Project = make_project(
        {"shop": {"0001_initial": migration(ops=[ITEM])}, "crm": {"0001_initial": lead}}, extra_settings=SETTINGS
    )
    repo = GitProject.init(project)
    repo.commit("release 1")
    repo.tag("v1", annotated=True)
    project.write_migration("shop", "0002_b", migration(deps=[("shop", "0001_initial")], ops=[B_FIELD]))
    project.write_migration("crm", "0002_note", migration(deps=[("crm", "0001_initial")], ops=[CAT]))
    project.add_app("bj", {"0001_a": migration(deps=[("shop", "0002_b")], ops=[create_model("Thing")])})
    repo.commit("after release 1")
    from_git, from_checkout = tmp_path / "git", tmp_path / "checkout"
    repo.checkout_freeze("v1", "1", from_checkout)
    assert project.migtool("freeze", "--release", "1", "--git-ref", "v1", "--releases-dir", str(from_git)).code == 0

    states = []
    for releases in (from_git, from_checkout):
        assert project.manage("migrate").code == 0
        project.db.execute("INSERT INTO shop_item (name, qty, b) VALUES ('kept', 1, 7)")
        result = project.migtool("rollback", "1", "--yes", "--releases-dir", str(releases))
        assert result.code == 0, result
        states.append((project.db.applied(), project.db.tables(), project.db.columns("shop_item")))
        assert project.db.rows("SELECT name FROM shop_item") == [("kept",)]
        project.db.execute("DELETE FROM shop_item")
    assert states[0] == states[1]
    applied, tables, columns = states[0]
    assert ("shop", "0002_b") not in applied and ("bj", "0001_a") not in applied
    assert ("auth", "0001_initial") in applied and ("crm", "0001_initial") in applied
    assert "bj_thing" not in tables and "crm_cat" not in tables and "b" not in columns
    plan = project.migtool("rollback", "1", "--dry-run", "--releases-dir", str(from_git))
    assert "does not describe apps whose migrations live outside the repository: auth, contenttypes" in plan.output


def test_rollback_leaves_an_unreadable_app_alone(make_project: Any, tmp_path: Path) -> None:
    project = make_project(
        {"shop": {"0001_initial": migration(ops=[ITEM])}, "crm": {"0001_a": migration(ops=[create_model("Lead")])}}
    )
    repo = GitProject.init(project)
    project.write_migration(
        "crm", "0002_x", UNREADABLE["computed dependencies"][0].replace("shop", "crm").replace("0001_initial", "0001_a")
    )
    repo.commit("release 1, crm unreadable")
    repo.tag("v1")
    project.write_migration("shop", "0002_b", migration(deps=[("shop", "0001_initial")], ops=[B_FIELD]))
    project.write_migration("crm", "0002_x", migration(deps=[("crm", "0001_a")], ops=[CAT]))
    repo.commit("fixed later")
    out = tmp_path / "out"
    frozen = project.migtool(
        "freeze", "--release", "1", "--git-ref", "v1", "--skip-unreadable", "--releases-dir", str(out)
    )
    assert frozen.code == 0, frozen
    assert project.manage("migrate").code == 0
    result = project.migtool("rollback", "1", "--yes", "--releases-dir", str(out))
    assert result.code == 0, result
    assert "could not freeze app 'crm'" in result.output and "rollback leaves it alone" in result.output
    applied = project.db.applied()
    assert ("crm", "0002_x") in applied and ("shop", "0002_b") not in applied


def test_migration_modules_app_labels_and_a_project_below_the_top_level(make_project: Any, tmp_path: Path) -> None:
    """shop's migrations live in shop/db_migrations (MIGRATION_MODULES), crm's label is
    'sales', quiet's migrations are disabled, and the project is a folder inside the repository."""
    settings = """
        INSTALLED_APPS = ["shop", "crm.apps.CrmConfig", "quiet"]
        MIGRATION_MODULES = {"shop": "shop.db_migrations", "quiet": None}
    """
    project = make_project({"shop": {"0001_initial": migration(ops=[ITEM])}, "quiet": {}}, extra_settings=settings)
    (project.root / "shop" / "migrations").rename(project.root / "shop" / "db_migrations")
    crm = project.root / "crm"
    (crm / "migrations").mkdir(parents=True)
    for name in ("__init__.py", "models.py", "migrations/__init__.py"):
        (crm / name).write_text("")
    (crm / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\nclass CrmConfig(AppConfig):\n    name = 'crm'\n    label = 'sales'\n"
    )
    (crm / "migrations" / "0001_a.py").write_text(migration(deps=[("shop", "0001_initial")], ops=[CAT]))
    (project.root / "quiet" / "migrations" / "0001_ignored.py").write_text(migration())
    repo = GitProject.init(project, toplevel=tmp_path)
    repo.commit("release 1")
    repo.tag("v1")
    (crm / "migrations" / "0002_b.py").write_text(migration(deps=[("sales", "0001_a")]))
    repo.commit("later")
    expected = repo.checkout_freeze("v1", "1", tmp_path.parent / f"{tmp_path.name}-oracle")
    out = tmp_path.parent / f"{tmp_path.name}-git"
    result = project.migtool("freeze", "--release", "1", "--git-ref", "v1", "--releases-dir", str(out))
    assert result.code == 0, result
    assert _without_source(read_release(out, "1")) == expected
    assert sorted(expected["apps"]) == ["sales", "shop"]
    assert expected["apps"]["sales"]["migrations"] == ["0001_a"]


def test_an_unknown_ref_is_bad_input(make_project: Any, tmp_path: Path) -> None:
    project = make_project({"shop": {"0001_initial": migration(ops=[ITEM])}})
    GitProject.init(project).commit("shop")
    result = project.migtool("freeze", "--release", "1", "--git-ref", "v9", "--releases-dir", str(tmp_path / "out"))
    assert result.code == 2, result
    assert "Error: No commit 'v9' in the git repository" in result.stderr and "Hint: " in result.stderr
    assert not (tmp_path / "out").exists()
