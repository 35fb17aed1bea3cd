"""Third-party migrations that change on upgrade (issue 18), with a real pip-installed package.

The real shape: wagtail 8.0 rewrote 26 of its own old migration files.  Here
``vendorapp`` 1.0 is installed with pip, release 1.0 freezes it, then vendorapp
2.0 rewrites its ``0001_initial`` (same operations, new bytes) and adds
``0002_size``.  Release 0.9 was frozen before vendorapp was installed, so a
rollback to 0.9 reverts the rewritten migration with 2.0's code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from distributions import build_wheel, pip_install
from projects import Project, Result, migration
from scenarios import ITEM, add_field, create_model, linear

MakeProject = Callable[..., Project]
EXIT_OK, EXIT_FINDINGS, EXIT_REFUSED = 0, 1, 4

VENDOR_0001 = migration(ops=[create_model("Thing", name="models.CharField(max_length=10)")], initial=True)
VENDOR_0001_REWRITTEN = "# rewritten by vendorapp 2.0: same operations, new bytes\n" + VENDOR_0001
VENDOR_0002 = migration(
    deps=[("vendorapp", "0001_initial")], ops=[add_field("Thing", "size", "models.IntegerField(null=True)")]
)


def vendorapp(version: str, migrations: dict[str, str]) -> dict[str, str]:
    package = {"vendorapp/__init__.py": "", "vendorapp/models.py": "", "vendorapp/migrations/__init__.py": ""}
    return {**package, **{f"vendorapp/migrations/{name}.py": source for name, source in migrations.items()}}


def settings(project: Project, drift: dict[str, str] | None = None) -> None:
    """Install vendorapp in the project's settings, with ``MIGTOOL_DRIFT`` when given."""
    project.extra_settings = 'INSTALLED_APPS = [*INSTALLED_APPS, "vendorapp"]\n' + (
        f"MIGTOOL_DRIFT = {drift!r}\n" if drift is not None else ""
    )
    project.write_settings()


def run_json(project: Project, *args: str, code: int = EXIT_OK) -> tuple[Result, dict[str, Any]]:
    result = project.migtool(*args, "--format", "json")
    assert result.code == code, result
    return result, json.loads(result.stdout)


def findings(project: Project, *args: str, code: int = EXIT_OK) -> list[tuple[str, str, str]]:
    _, payload = run_json(project, "doctor", "--database", "default", *args, code=code)
    # no-stored-source (applied by plain migrate, sources not captured) is issue 11's concern, not this test's.
    return [(f["severity"], f["code"], f["subject"]) for f in payload["findings"] if f["code"] != "no-stored-source"]


@pytest.mark.backends
def test_an_upgrade_that_rewrites_a_packages_own_migrations(make_project: MakeProject, backend: str) -> None:
    project = make_project({"shop": linear("shop", {"0001_a": [ITEM]})})
    site = project.root.parent / "site-packages"
    project.env["PYTHONPATH"] = f"{project.root}{os.pathsep}{site}"
    assert project.migtool("freeze", "--release", "0.9").code == EXIT_OK  # before vendorapp

    wheels = project.root.parent / "wheels"
    pip_install(build_wheel(wheels, "vendorapp", "1.0", vendorapp("1.0", {"0001_initial": VENDOR_0001})), site)
    settings(project)
    project.write_migration(
        "shop",
        "0002_b",
        migration(deps=[("shop", "0001_a")], ops=[add_field("Item", "b", "models.IntegerField(null=True)")]),
    )
    assert project.migtool("freeze", "--release", "1.0").code == EXIT_OK
    frozen = json.loads((project.root / "releases" / "1.0.json").read_text())["apps"]
    assert frozen["vendorapp"]["distribution"] == {"name": "vendorapp", "version": "1.0"}
    assert "distribution" not in frozen["shop"]  # the project's own app
    assert project.manage("migrate").code == EXIT_OK
    assert findings(project) == []

    upgraded = vendorapp("2.0", {"0001_initial": VENDOR_0001_REWRITTEN, "0002_size": VENDOR_0002})
    pip_install(build_wheel(wheels, "vendorapp", "2.0", upgraded), site)

    # doctor: the rewrite is upstream's, a warning (a rollback to 0.9 reverts it), not an error.
    assert findings(project) == [("warning", "upstream-edited", "vendorapp.0001_initial")]
    _, payload = run_json(project, "doctor", code=EXIT_OK)
    [upstream] = payload["findings"]
    assert upstream["message"] == (
        "vendorapp.0001_initial, frozen in release 1.0 (vendorapp 1.0), was changed by the installed vendorapp 2.0."
    )
    assert upstream["why"].startswith("A rollback to 0.9 would revert it")
    assert project.migtool("doctor", "--strict").code == EXIT_FINDINGS

    # diff: the package's edit is shown apart from the project's own changes.
    shown = project.migtool("diff", "1.0")
    assert shown.code == EXIT_OK, shown
    assert "vendorapp (vendorapp 1.0 -> 2.0)" in shown.stdout and "~ edited upstream" in shown.stdout, shown
    assert "1 edit(s) are inside installed packages (vendorapp)" in shown.stderr, shown
    _, changes = run_json(project, "diff", "1.0")
    [vendor] = [a for a in changes["apps"] if a["app"] == "vendorapp"]
    assert (vendor["upstream"], vendor["added"], vendor["edited"]) == (True, ["0002_size"], ["0001_initial"])

    assert project.migtool("migrate-safe").code == EXIT_OK
    assert ("vendorapp", "0002_size") in project.db.applied()

    # rollback: upstream's edit in the plan is a warning; the project's own edit stays a blocker,
    # whatever MIGTOOL_DRIFT says, until --allow-drift.
    dry, plan = run_json(project, "rollback", "0.9", "--dry-run")
    assert any(w.startswith("vendorapp.0001_initial, frozen in release 1.0") for w in plan["warnings"]), plan
    assert "Warning: vendorapp.0001_initial" in dry.stderr, dry
    shop_0002 = project.migration_path("shop", "0002_b")
    project.write_migration("shop", "0002_b", shop_0002.read_text() + "# edited after 1.0\n")
    settings(project, {"shop": "ignore", "vendorapp": "info"})
    assert findings(project) == [("info", "upstream-edited", "vendorapp.0001_initial")]
    before = project.db.applied()
    refused = project.migtool("rollback", "0.9", "--yes")
    assert refused.code == EXIT_REFUSED and "shop.0002_b, frozen in release 1.0, was edited" in refused.stderr, refused
    assert project.db.applied() == before
    done = project.migtool("rollback", "0.9", "--yes", "--allow-drift")
    assert done.code == EXIT_OK, done
    assert project.db.applied() == {("shop", "0001_a")}
    assert "vendorapp_thing" not in project.db.tables() and project.db.columns("shop_item") == {"id", "name", "qty"}

    settings(project, {"vendorapp": "ignore"})
    assert findings(project, code=EXIT_FINDINGS) == [("error", "drift-edited", "shop.0002_b")]
