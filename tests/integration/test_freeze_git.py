"""``freeze --git-ref`` / ``--git-tags``: past releases read from git objects, checked against
a ``freeze`` run on a real checkout of the same ref (the oracle), on real repositories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from git_repos import GitProject, read_release
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

    replaced = [("shop", n) for n in SQUASHED]
    project.write_migration(
        "shop",
        "0001_squashed_0003_merge",
        migration(ops=[ITEM, B_FIELD, CAT, D_FIELD], replaces=replaced, initial=True),
    )
    project.add_app(
        "bj",
        {
            "0001_a": migration(ops=[create_model("Thing")], atomic=False),
            "0002_patch": migration(deps=[("bj", "0001_a")], replaces=[("bj", "0002_never_existed")]),
        },
    )
    repo.commit("squash shop; bj replaces a migration that never existed")
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


def test_external_apps_are_not_frozen_by_default(make_project: Any, tmp_path: Path) -> None:
    repo = history(make_project)
    oracle, unknown = tmp_path / "oracle", tmp_path / "unknown"
    result = repo.project.migtool("freeze", "--release", "1.1", "--git-ref", "v1.1", "--releases-dir", str(unknown))
    assert result.code == 0, result
    assert "Not frozen (outside the repository; rollback leaves them alone): auth, contenttypes." in result.stderr
    frozen = read_release(unknown, "1.1")
    expected = repo.checkout_freeze("v1.1", "1.1", oracle)
    assert frozen["external"] == ["auth", "contenttypes"]
    assert frozen["format_version"] == 2
    assert frozen["apps"] == {k: v for k, v in expected["apps"].items() if k not in ("auth", "contenttypes")}
