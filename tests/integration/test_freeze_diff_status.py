"""Integration tests of ``freeze``, ``releases``, ``diff`` and ``status``.

Every test runs ``python -m migtool`` in a real temporary Django project and
checks the outcome where it lives: release files on disk (bytes, sha256 of the
migration files) and the ``django_migrations`` table of a real database.

``freeze``, ``releases`` and ``diff`` need no database, so they run once, in a
project whose only database is a PostgreSQL server that cannot be reached:
touching the database would fail them.  ``status`` runs on every backend.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from projects import Project, Result, migration

MakeProject = Callable[..., Project]
Apps = dict[str, dict[str, str]]

PASSWORD = "s3cr3t-pw"


def unreachable_database(engine: str) -> str:
    """Settings whose only database is on an ``engine`` server that nothing listens for (port 1)."""
    return (
        f'DATABASES = {{"default": {{"ENGINE": "django.db.backends.{engine}", "NAME": "migtool_no_such_db",\n'
        f'    "HOST": "127.0.0.1", "PORT": "1", "USER": "nobody", "PASSWORD": {PASSWORD!r}}}}}\n'
    )


# --------------------------------------------------------------------------- migration graphs


def mig(name: str, *deps: str, app: str = "shop", replaces: tuple[str, ...] | None = None) -> str:
    """Source of an operation-less migration of ``app``; its name is in the file, so every
    file has its own bytes (and checksum).  ``deps``/``replaces`` are same-app names."""
    return migration(
        deps=[(app, d) for d in deps],
        replaces=None if replaces is None else [(app, r) for r in replaces],
        preamble=f"# {app}.{name}",
    )


def linear(*names: str, app: str = "shop") -> dict[str, str]:
    """``names[0] <- names[1] <- ...`` in ``app``."""
    return {name: mig(name, *names[i - 1 : i], app=app) for i, name in enumerate(names)}


def merge_shape() -> dict[str, str]:
    """shop: 0001_a <- 0002_b, 0001_a <- 0002_c, 0003_d = merge(0002_b, 0002_c)."""
    return {
        "0001_a": mig("0001_a"),
        "0002_b": mig("0002_b", "0001_a"),
        "0002_c": mig("0002_c", "0001_a"),
        "0003_d": mig("0003_d", "0002_b", "0002_c"),
    }


def squashed_with_originals() -> dict[str, str]:
    """billing: 0001_x <- 0002_y, squashed into 0001_squashed_0002_y (originals on disk); 0003_z after it."""
    return {
        "0001_x": mig("0001_x", app="billing"),
        "0002_y": mig("0002_y", "0001_x", app="billing"),
        "0001_squashed_0002_y": mig("0001_squashed_0002_y", app="billing", replaces=("0001_x", "0002_y")),
        "0003_z": mig("0003_z", "0001_squashed_0002_y", app="billing"),
    }


# --------------------------------------------------------------------------- helpers


def assert_fails(result: Result, code: int, *fragments: str) -> None:
    """A user error: exit ``code``, an ``Error:`` line naming ``fragments``, no traceback."""
    assert result.code == code, result
    assert "Traceback" not in result.output, result
    assert "Error: " in result.stderr, result
    for fragment in fragments:
        assert fragment in result.stderr, result


def ok(project: Project, *args: str) -> Result:
    result = project.migtool(*args)
    assert result.code == 0, result
    return result


def as_json(result: Result) -> dict[str, Any]:
    payload = json.loads(result.stdout)
    assert payload["schema_version"] == 1, result
    return payload


def freeze(project: Project, release: str, *args: str) -> Result:
    return ok(project, "freeze", "--release", release, *args)


def release_file(project: Project, release: str) -> Path:
    return project.root / "releases" / f"{release}.json"


def read_release(project: Project, release: str) -> dict[str, Any]:
    return json.loads(release_file(project, release).read_text())


def write_release(project: Project, release: str, text: str) -> None:
    path = release_file(project, release)
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit(project: Project, app: str, name: str) -> None:
    """Change a migration file's bytes, keeping its name and meaning."""
    project.write_migration(app, name, project.apps[app][name] + "# edited after the release\n")


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def diff_json(project: Project, *args: str) -> tuple[dict[str, Any], Result]:
    """``diff ARGS --format json``: the payload with ``apps`` keyed by label, and the result.
    These projects have only their own apps: every app says so, and the fields are dropped,
    as is an empty ``squashed`` (re-spelling squashes are tested where they occur)."""
    result = project.migtool("diff", *args, "--format", "json")
    assert result.code in (0, 1), result
    payload = as_json(result)
    assert payload["kind"] == "diff"
    for entry in payload["apps"]:
        assert (entry.pop("upstream"), entry.pop("distribution")) == (False, {"old": None, "new": None}), entry
        if entry["squashed"] == []:
            del entry["squashed"]
    payload["apps"] = {a.pop("app"): a for a in payload["apps"]}
    return payload, result


def status(project: Project, *args: str) -> tuple[dict[str, Any], Result]:
    """``status ARGS --format json``: the payload with ``apps`` keyed by label, and the result."""
    result = ok(project, "status", *args, "--format", "json")
    payload = as_json(result)
    assert payload["kind"] == "status"
    payload["apps"] = {a.pop("app"): a for a in payload["apps"]}
    return payload, result


def app_status(
    applied: Sequence[str], unapplied: Sequence[str] = (), ghosts: Sequence[str] = (), duplicates: Sequence[str] = ()
) -> dict[str, list[str]]:
    """One app's entry of the ``status`` JSON, on a database migrated by plain ``migrate``
    (no source captured: ``test_downgraded_code.py`` covers ``captured``)."""
    return {
        "applied": [*applied],
        "unapplied": [*unapplied],
        "ghosts": [*ghosts],
        "duplicates": [*duplicates],
        "captured": [],
        "from_stored_source": [],
    }


@pytest.fixture(autouse=True)
def _no_inherited_releases_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Child processes inherit os.environ: a developer's MIGTOOL_RELEASES_DIR must not leak in."""
    monkeypatch.delenv("MIGTOOL_RELEASES_DIR", raising=False)


@pytest.fixture
def offline_project(make_project: MakeProject) -> Callable[..., Project]:
    """``offline_project(apps, extra_settings="")``: a project whose database is unreachable."""

    def make(apps: Apps, extra_settings: str = "") -> Project:
        return make_project(apps, extra_settings=unreachable_database("postgresql") + extra_settings)

    return make


# --------------------------------------------------------------------------- freeze


def test_freeze_is_reproducible_and_refuses_to_overwrite(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": linear("0001_a", "0002_b")})

    result = freeze(project, "1.0", "--format", "json")
    payload = as_json(result)
    assert payload["kind"] == "freeze" and payload["release"] == "1.0"
    assert payload["apps"]["shop"]["leaves"] == ["0002_b"]
    assert "Froze release 1.0" in result.stderr
    frozen = release_file(project, "1.0").read_bytes()
    assert read_release(project, "1.0")["apps"]["shop"]["migrations"] == ["0001_a", "0002_b"]

    freeze(project, "1.0", "--force")
    assert release_file(project, "1.0").read_bytes() == frozen

    assert_fails(project.migtool("freeze", "--release", "1.0"), 4, "already exists", "nothing would change")
    assert release_file(project, "1.0").read_bytes() == frozen

    project.write_migration("shop", "0003_c", mig("0003_c", "0002_b"))
    edit(project, "shop", "0001_a")
    result = project.migtool("freeze", "--release", "1.0")
    assert_fails(result, 4, "freezing now would add shop.0003_c, edit shop.0001_a.")
    assert release_file(project, "1.0").read_bytes() == frozen
    assert sorted(p.name for p in release_file(project, "1.0").parent.iterdir()) == ["1.0.json"]


def test_freeze_refusal_names_the_first_ten_changes_of_each_kind(offline_project: Callable[..., Project]) -> None:
    """Twelve migrations added, one removed: the message lists ten and counts the rest;
    the JSON details list them all."""
    project = offline_project({"shop": linear("0001_a", "0002_b")})
    freeze(project, "1.0")
    project.remove_migration("shop", "0002_b")
    added = [f"{i:04d}_x" for i in range(2, 14)]
    for previous, name in zip(["0001_a", *added[:-1]], added, strict=True):
        project.write_migration("shop", name, mig(name, previous))
    result = project.migtool("freeze", "--release", "1.0", "--format", "json")
    shown = ", ".join(f"shop.{name}" for name in added[:10])
    assert_fails(result, 4, f"would add {shown} and 2 more, remove shop.0002_b.")
    details = as_json(result)["error"]["details"]
    assert details == {
        "release": "1.0",
        "added": [f"shop.{name}" for name in added],
        "removed": ["shop.0002_b"],
        "edited": [],
    }


def test_freeze_reports_a_migration_that_does_not_load(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": linear("0001_a")})
    project.write_migration("shop", "0002_broken", "class Migration(:\n")

    assert_fails(project.migtool("freeze", "--release", "1.0"), 3, "0002_broken")
    assert not (project.root / "releases").exists()


def assert_checksums_are_file_hashes(project: Project, release: str) -> None:
    for app, entry in read_release(project, release)["apps"].items():
        expected = {name: sha256(project.migration_path(app, name)) for name in entry["migrations"]}
        assert entry["checksums"] == expected, app


def test_freeze_merge_shape(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": merge_shape()})
    freeze(project, "1.0")

    data = read_release(project, "1.0")
    assert data["format"] == "migtool-release" and data["format_version"] == 1 and data["release"] == "1.0"
    assert data["apps"]["shop"]["leaves"] == ["0003_d"]
    assert data["apps"]["shop"]["migrations"] == ["0001_a", "0002_b", "0002_c", "0003_d"]
    assert data["apps"]["shop"]["squashes"] == {}
    assert_checksums_are_file_hashes(project, "1.0")


def test_freeze_squash_keeps_both_spellings(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"billing": squashed_with_originals()})
    freeze(project, "1.0")

    billing = read_release(project, "1.0")["apps"]["billing"]
    assert billing["leaves"] == ["0003_z"]
    assert billing["migrations"] == ["0001_squashed_0002_y", "0001_x", "0002_y", "0003_z"]
    assert billing["squashes"] == {"0001_squashed_0002_y": ["billing.0001_x", "billing.0002_y"]}
    assert_checksums_are_file_hashes(project, "1.0")


def test_diff_is_squash_free_across_a_squash_that_deletes_its_originals(
    offline_project: Callable[..., Project],
) -> None:
    """2.0.3 has billing 0001_x <- 0002_y <- 0003_z; 2.0.4 squashes 0001..0002 and
    deletes the originals.  The squash re-spells 2.0.3's migrations: not added, its
    originals not removed, ``diff --check`` passes; a real addition still fails it."""
    apps = {k: v for k, v in squashed_with_originals().items() if k != "0001_squashed_0002_y"}
    apps["0003_z"] = mig("0003_z", "0002_y", app="billing")
    project = offline_project({"billing": apps})
    freeze(project, "2.0.3")
    squash = "0001_squashed_0002_y"
    project.write_migration("billing", squash, mig(squash, app="billing", replaces=("0001_x", "0002_y")))
    project.write_migration("billing", "0003_z", mig("0003_z", squash, app="billing"))
    project.remove_migration("billing", "0001_x")
    project.remove_migration("billing", "0002_y")
    freeze(project, "2.0.4")

    payload, result = diff_json(project, "2.0.3", "2.0.4")
    assert payload["has_changes"] is True  # 0003_z's file changed (its dependency is the squash now)
    assert payload["apps"]["billing"] == {
        "added": [],
        "removed": [],
        "edited": ["0003_z"],
        "squashed": [{"name": squash, "replaces": 2}],
    }
    project.write_migration("billing", "0003_z", apps["0003_z"])  # only the re-spelling is left
    freeze(project, "2.0.5")
    result = project.migtool("diff", "2.0.3", "2.0.5", "--check")
    assert result.code == 0, result
    assert f"{squash} (replaces 2 already in 2.0.3)" in result.stdout
    assert "only squashes re-spelling" in result.stderr
    project.write_migration("billing", "0004_w", mig("0004_w", "0003_z", app="billing"))
    assert project.migtool("diff", "2.0.3", "--check").code == 1


def test_freeze_refuses_conflicting_leaves(offline_project: Callable[..., Project]) -> None:
    apps = merge_shape()
    del apps["0003_d"]
    project = offline_project({"shop": apps})

    assert_fails(project.migtool("freeze", "--release", "1.0"), 4, "0002_b", "0002_c", "makemigrations --merge")
    assert not (project.root / "releases").exists()


@pytest.mark.parametrize("name", ["../evil", ".hidden", "sub/dir"])
def test_freeze_rejects_invalid_release_name(
    offline_project: Callable[..., Project], tmp_path: Path, name: str
) -> None:
    project = offline_project({"shop": linear("0001_a")})
    before = tree(tmp_path)

    assert_fails(project.migtool("freeze", "--release", name), 2, "Invalid release name", repr(name))
    assert tree(tmp_path) == before


def test_releases_dir_precedence(offline_project: Callable[..., Project], tmp_path: Path) -> None:
    """--releases-dir, then $MIGTOOL_RELEASES_DIR, then settings.MIGTOOL_RELEASES_DIR, then ./releases."""
    dirs = {where: tmp_path / f"from_{where}" for where in ("settings", "env", "option")}
    project = offline_project({"shop": linear("0001_a")}, f"MIGTOOL_RELEASES_DIR = {str(dirs['settings'])!r}")

    freeze(project, "r1")
    project.env["MIGTOOL_RELEASES_DIR"] = str(dirs["env"])
    freeze(project, "r2")
    freeze(project, "r3", "--releases-dir", str(dirs["option"]))
    ok(project, "--releases-dir", str(dirs["option"]), "freeze", "--release", "r4")  # before the subcommand too

    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.json")} == {
        "from_settings/r1.json",
        "from_env/r2.json",
        "from_option/r3.json",
        "from_option/r4.json",
    }
    listed = as_json(ok(project, "releases", "--format", "json"))["releases"]  # reading follows the same rule
    assert [r["name"] for r in listed] == ["r2"]


# --------------------------------------------------------------------------- releases


def test_releases_newest_first_by_version(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": linear("0001_a", "0002_b"), "billing": linear("0001_x", app="billing")})
    freeze(project, "2.0.9")
    for name in ("2.0.10", "10.0", "2.0.9-rc1"):
        write_release(project, name, json.dumps({**read_release(project, "2.0.9"), "release": name}))
    write_release(project, "1.9", json.dumps({"shop": "0001_a"}))

    payload = as_json(ok(project, "releases", "--format", "json"))
    assert payload["kind"] == "releases"
    good = {"legacy": False, "problem": None, "source": None, "not_frozen": []}
    assert payload["releases"] == [
        *({"name": n, "apps": 2, "migrations": 3, **good} for n in ("10.0", "2.0.10", "2.0.9-rc1", "2.0.9")),
        {"name": "1.9", "apps": 1, "migrations": None, **good, "legacy": True},
    ]

    table = ok(project, "releases").stdout
    positions = [table.index(f" {name} ") for name in ("10.0", "2.0.10", "2.0.9-rc1", "2.0.9 ", "1.9")]
    assert positions == sorted(positions), table
    assert "legacy" in table


# --------------------------------------------------------------------------- diff


def test_diff_between_releases(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": linear("0001_a", "0002_b", "0003_c")})
    freeze(project, "1.0")
    project.remove_migration("shop", "0003_c")
    project.write_migration("shop", "0003_d", mig("0003_d", "0002_b"))
    edit(project, "shop", "0002_b")
    project.add_app("billing", linear("0001_x", app="billing"))
    freeze(project, "2.0")
    # Two current-format files are compared without loading the project's migrations.
    project.write_migration("shop", "0004_broken", "class Migration(:\n")

    payload, result = diff_json(project, "1.0", "2.0")
    assert result.code == 0, result
    assert (payload["old"], payload["new"], payload["has_changes"], payload["unverified"]) == ("1.0", "2.0", True, [])
    assert payload["apps"] == {
        "billing": {"added": ["0001_x"], "removed": [], "edited": []},
        "shop": {"added": ["0003_d"], "removed": ["0003_c"], "edited": ["0002_b"]},
    }
    check = project.migtool("diff", "1.0", "2.0", "--check")
    assert check.code == 1, check
    assert all(name in check.stdout for name in ("0003_d", "0003_c", "0002_b", "0001_x")), check
    same = ok(project, "diff", "2.0", "2.0", "--check")
    assert "No differences" in same.stderr and same.stdout == ""


def test_diff_against_disk_sees_a_file_edited_after_freezing(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": linear("0001_a", "0002_b")})
    freeze(project, "1.0")
    clean = ok(project, "diff", "1.0", "--check")
    assert "No differences between 1.0 and (disk)" in clean.stderr

    edit(project, "shop", "0001_a")
    payload, result = diff_json(project, "1.0", "--check")
    assert result.code == 1, result
    assert payload["new"] == "(disk)"
    assert payload["apps"] == {"shop": {"added": [], "removed": [], "edited": ["0001_a"]}}


def test_diff_legacy_release_is_completed_against_disk(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": linear("0001_a", "0002_b", "0003_c")})
    write_release(project, "0.9", json.dumps({"shop": "0002_b"}))
    freeze(project, "1.0")
    edit(project, "shop", "0001_a")  # invisible to a legacy file: it has no checksums

    for args in (["0.9"], ["0.9", "1.0"]):
        payload, result = diff_json(project, *args)
        assert result.code == 0, result
        assert payload["unverified"] == ["0.9"]
        assert payload["apps"] == {"shop": {"added": ["0003_c"], "removed": [], "edited": []}}
        assert "legacy" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{}", "names no apps"),
        ('{"apps": {"shop": {"leaves": ["0001_a"], "migr', "not valid JSON"),
    ],
    ids=["empty-object", "truncated"],
)
def test_diff_refuses_malformed_release_file(offline_project: Callable[..., Project], text: str, problem: str) -> None:
    project = offline_project({"shop": linear("0001_a")})
    write_release(project, "bad", text)

    assert_fails(project.migtool("diff", "bad"), 2, "Malformed release file", "releases/bad.json", problem)
    result = project.migtool("diff", "bad", "--format", "json")
    assert_fails(result, 2, "releases/bad.json")
    error = as_json(result)["error"]
    assert error["exit_code"] == 2 and "releases/bad.json" in error["message"]


# --------------------------------------------------------------------------- status

ROW = "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, CURRENT_TIMESTAMP)"


@pytest.mark.backends
def test_status_follows_migrate_and_matches_releases(make_project: MakeProject) -> None:
    project = make_project({"shop": linear("0001_a", "0002_b")})
    freeze(project, "1.0")
    project.write_migration("shop", "0003_c", mig("0003_c", "0002_b"))
    project.add_app("billing", {"0001_x": migration(deps=[("shop", "0003_c")], preamble="# billing.0001_x")})
    freeze(project, "2.0")

    assert project.manage("migrate", "shop", "0002_b").ok
    payload, result = status(project)
    assert payload["database"] == "default"
    assert payload["apps"] == {
        "billing": app_status([], ["0001_x"]),
        "shop": app_status(["0001_a", "0002_b"], ["0003_c"]),
    }
    assert payload["matching_releases"] == ["1.0"]
    assert "matches release 1.0" in result.stderr

    assert project.manage("migrate").ok
    assert project.db.applied() == {("shop", n) for n in ("0001_a", "0002_b", "0003_c")} | {("billing", "0001_x")}
    payload, result = status(project)
    assert payload["apps"] == {
        "billing": app_status(["0001_x"]),
        "shop": app_status(["0001_a", "0002_b", "0003_c"]),
    }
    assert payload["matching_releases"] == ["2.0"]
    assert "matches release 2.0" in result.stderr


@pytest.mark.backends
def test_status_reports_ghost_and_duplicate_rows(make_project: MakeProject) -> None:
    """0002_b replaces 0002_patch, which exists on no disk: Django records a row for it, not a ghost."""
    apps = {"shop": {"0001_a": mig("0001_a"), "0002_b": mig("0002_b", "0001_a", replaces=("0002_patch",))}}
    project = make_project(apps)
    assert project.manage("migrate").ok
    assert ("shop", "0002_patch") in project.db.applied()

    project.db.execute(ROW, ("shop", "0009_gone"))
    project.db.execute(ROW, ("vanished", "0001_initial"))
    project.db.execute(ROW, ("shop", "0001_a"))
    assert project.db.migration_row_count("shop", "0001_a") == 2

    payload, _ = status(project)
    assert payload["apps"] == {
        "shop": app_status(["0001_a", "0002_b"], ghosts=["0009_gone"], duplicates=["0001_a"]),
        "vanished": app_status([], ghosts=["0001_initial"]),
    }
    table = ok(project, "status").stdout
    assert "0009_gone" in table and "vanished" in table, table


@pytest.mark.backends
def test_status_follows_django_squash_semantics(make_project: MakeProject) -> None:
    """Release 1.0 is frozen before the squash; the squash arrives while only 0001_a is applied."""
    project = make_project({"shop": linear("0001_a", "0002_b", "0003_c")})
    freeze(project, "1.0")
    assert project.manage("migrate", "shop", "0001_a").ok
    squash = "0001_squashed_0003_c"
    project.write_migration("shop", squash, mig(squash, replaces=("0001_a", "0002_b", "0003_c")))

    payload, result = status(project)  # partly applied: Django ignores the squash and uses the originals
    assert payload["apps"]["shop"] == app_status(["0001_a"], ["0002_b", "0003_c"])
    assert payload["matching_releases"] == []
    assert "matches no known release" in result.stderr

    assert project.manage("migrate").ok
    assert ("shop", squash) in project.db.applied()
    payload, result = status(project)  # fully applied: the squash is in effect and stands for the originals
    assert payload["apps"]["shop"] == app_status([squash])
    assert payload["matching_releases"] == ["1.0"]
    assert "matches release 1.0" in result.stderr


@pytest.mark.backends
def test_status_is_read_only_on_an_empty_database(make_project: MakeProject) -> None:
    project = make_project({"shop": linear("0001_a", "0002_b")})
    project.db.execute("CREATE TABLE unrelated (id INTEGER)")  # on SQLite, this creates the file

    payload, result = status(project)
    assert payload["apps"] == {"shop": app_status([], ["0001_a", "0002_b"])}
    assert payload["matching_releases"] == []
    assert project.db.tables() == {"unrelated"}


def test_status_missing_sqlite_file_is_reported_not_created(make_project: MakeProject) -> None:
    project = make_project({"shop": linear("0001_a")})
    database = Path(project.db.name)
    assert not database.exists()

    assert_fails(project.migtool("status"), 3, "does not exist", str(database))
    assert not database.exists()


def test_status_unknown_database_alias(offline_project: Callable[..., Project]) -> None:
    project = offline_project({"shop": linear("0001_a")})

    result = project.migtool("status", "--database", "replica")
    assert_fails(result, 3, "Unknown database alias 'replica'")
    assert [line for line in result.stderr.splitlines() if not line.startswith("Hint: ")] == [
        "Error: Unknown database alias 'replica'."
    ]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_status_unreachable_server_hides_the_password(make_project: MakeProject, engine: str) -> None:
    project = make_project({"shop": linear("0001_a")}, extra_settings=unreachable_database(engine))

    for args in ([], ["--format", "json"]):
        result = project.migtool("status", *args)
        assert_fails(result, 3, "Cannot connect to database 'default'", engine, "127.0.0.1", "migtool_no_such_db")
        assert PASSWORD not in result.output, result
