"""Generate synthetic Django projects for migtool's benchmark (issue #6).

A project has ``apps`` apps (``a000``, ``a001``, ...) with ``per_app`` migration
files each, all with the same structure, so a migration name means the same
position in every app:

* ``0001_initial`` creates the app's ``Item`` model;
* most migrations add one field to ``Item`` (``AddField``, cheap);
* every ``rel_every``-th migration creates a model ``RelNNNN`` with a foreign
  key to the app's ``Item`` (relations; re-rendering cost grows with them);
* every ``cross_every``-th migration of app *i* depends on the migration of the
  same name in app *i-1* (cross-app edges); when it creates a ``Rel`` model
  and both apps are in the same block of ``fk_group`` apps, that model also
  gets a foreign key to app *i-1*'s ``Item`` (``fk_group=0``: one block of
  all apps; ``fk_group=1``: no cross-app foreign keys).  Blocks bound the groups of
  related models: Django re-renders every model related to a created model,
  recursively, and since 5.0 each foreign key scans all models when it is
  rendered (django-migrations.md §5.3), so one component spanning all apps
  makes the full forward migrate of the huge preset take an hour;
* every ``merge_every``-th position is a merge shape: two branch migrations
  with the same number and a merge migration over both;
* every ``squash_every``-th app (starting with ``a000``) has a squash
  ``0001_squashed_NNNN`` of its first ``squash_len`` files, with ``replaces``
  and the originals kept on disk;
* the last ``changed_apps`` apps have a "tail" of ``tail`` plain migrations
  that are not part of release ``r1``: the release boundary of the rollback
  benchmarks spans K = changed_apps x tail migrations across several apps.
  Tails hold no merge shape, so per-app ``manage.py migrate APP TARGET``
  reaches exactly the same state as ``migtool rollback r1`` (it would leave a
  merge's parallel branch applied, Django ticket #32267).

``models.py`` of every app matches the final migration state, so
``manage.py migrate``'s autodetector check finds no changes (as in a real
project).  Everything is deterministic for a given shape: field types come
from a ``random.Random`` seeded with the shape's seed, the app and the position.

Releases (``<project>/releases``): ``r1`` is frozen with ``migtool freeze`` while
only the migrations up to the boundary are on disk, then the tails are written
and ``r2`` is frozen; ``extra_releases`` more files (copies of ``r1`` under
names ``r0.N``) stand for the older releases a real project keeps.

Usage::

    python tests/bench/generate.py large /tmp/bench/large          # project + releases
    python tests/bench/generate.py 'large:apps=20,per_app=100' DIR   # a custom shape

The database is chosen at run time by ``BENCH_DATABASE_URL``:
``sqlite:////abs/path.sqlite3`` (the default is ``db.sqlite3`` in the project)
or ``postgres://user:password@host:port/name``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETTINGS_PACKAGE = "benchproj"
SETTINGS_MODULE = f"{SETTINGS_PACKAGE}.settings"
STAMP = ".bench-stamp.json"


@dataclass(frozen=True)
class Shape:
    """The shape of a generated project; see the module docstring."""

    apps: int
    per_app: int
    cross_every: int = 10
    rel_every: int = 10
    fk_group: int = 5
    merge_every: int = 12
    squash_every: int = 2
    squash_len: int = 10
    changed_apps: int = 3
    tail: int = 4
    extra_releases: int = 8
    seed: int = 6

    def __post_init__(self) -> None:
        if self.apps < 1 or self.per_app < 2:
            raise ValueError("need at least 1 app and 2 migrations per app")
        if not 1 <= self.changed_apps <= self.apps:
            raise ValueError("changed_apps must be between 1 and apps")
        if not 1 <= self.tail < self.per_app - 1:
            raise ValueError("tail must be at least 1 and leave the initial migration in r1")
        if self.squash_every and self.squash_len >= self.per_app - self.tail:
            raise ValueError("the squash must end before the release boundary")

    @property
    def k(self) -> int:
        """Migrations a rollback from r2 to r1 unapplies."""
        return self.changed_apps * self.tail


PRESETS: dict[str, Shape] = {
    # ~200 migrations: 10 apps x 20; 3 apps changed x 4 = 12 to roll back.
    "small": Shape(apps=10, per_app=20, rel_every=5, merge_every=6, changed_apps=3, tail=4, extra_releases=8),
    # ~2,000: 40 apps x 50 (the shape of django-migrations.md §5.2); 5 x 6 = 30.
    "large": Shape(apps=40, per_app=50, changed_apps=5, tail=6, extra_releases=18),
    # ~5,000: 50 apps x 100; 8 x 6 = 48.
    "huge": Shape(apps=50, per_app=100, changed_apps=8, tail=6, extra_releases=28),
    # Relation-heavy (issue 13): 10 apps x 21, one model per migration with a foreign key to the
    # app's Item, every 5th also to the previous app's: 210 models in one connected component.
    # The tails of 5 apps (30 migrations) are rolled back.
    "related": Shape(
        apps=10,
        per_app=21,
        cross_every=5,
        rel_every=1,
        fk_group=0,
        merge_every=0,
        squash_every=0,
        changed_apps=5,
        tail=6,
        extra_releases=2,
    ),
}


def parse_preset(spec: str) -> tuple[str, Shape]:
    """``name`` or ``name:field=value,...`` (overrides a preset's fields)."""
    name, _, overrides = spec.partition(":")
    if name not in PRESETS:
        raise SystemExit(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    shape = PRESETS[name]
    if overrides:
        values = {}
        fields = {f.name for f in dataclasses.fields(Shape)}
        for item in overrides.split(","):
            key, _, value = item.partition("=")
            if key not in fields:
                raise SystemExit(f"unknown shape field {key!r}; known: {', '.join(sorted(fields))}")
            values[key] = int(value)
        shape = dataclasses.replace(shape, **values)
        name = spec.replace(":", "-").replace(",", "-").replace("=", "")
    return name, shape


# --------------------------------------------------------------------------- the structure

ID_FIELD = 'models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")'
# (migration source, models.py source) of the fields AddField picks from.
FIELD_KINDS = (
    ("models.IntegerField(null=True)", "models.IntegerField(null=True)"),
    ("models.CharField(max_length=40, null=True)", "models.CharField(max_length=40, null=True)"),
    ("models.BooleanField(default=False)", "models.BooleanField(default=False)"),
    ("models.DateTimeField(null=True)", "models.DateTimeField(null=True)"),
)


@dataclass
class Migration:
    app: str
    name: str
    deps: list[tuple[str, str]]
    ops: list[str]
    replaces: list[tuple[str, str]] = field(default_factory=list)
    uses_fk: bool = False
    tail: bool = False

    def source(self) -> str:
        lines = ["from django.db import migrations, models"]
        if self.uses_fk:
            lines.append("import django.db.models.deletion")
        lines += ["", "", "class Migration(migrations.Migration):"]
        if self.name == "0001_initial" or self.replaces:
            lines.append("    initial = True")
        if self.replaces:
            lines.append("    replaces = [")
            lines += [f"        {r!r}," for r in self.replaces]
            lines.append("    ]")
        lines.append("    dependencies = [")
        lines += [f"        {d!r}," for d in self.deps]
        lines.append("    ]")
        lines.append("    operations = [")
        lines += [f"        {op}," for op in self.ops]
        lines.append("    ]")
        return "\n".join(lines) + "\n"


@dataclass
class App:
    label: str
    migrations: list[Migration]
    item_fields: list[tuple[str, str]]
    rel_models: list[tuple[str, list[tuple[str, str]]]]

    def models_source(self) -> str:
        lines = ["from django.db import models", "", "", "class Item(models.Model):"]
        lines += [f"    {name} = {src}" for name, src in self.item_fields]
        for model, fields in self.rel_models:
            lines += ["", "", f"class {model}(models.Model):"]
            lines += [f"    {name} = {src}" for name, src in fields]
        return "\n".join(lines) + "\n"


def _positions(shape: Shape) -> list[tuple[str, int]]:
    """The structure shared by every app: ``("initial"|"simple"|"merge", number)``.

    A merge shape is three files (two branches numbered n, the merge n+1); the
    last ``tail`` files are always simple.
    """
    positions: list[tuple[str, int]] = [("initial", 1)]
    files, number = 1, 2
    while files < shape.per_app:
        room = shape.per_app - shape.tail - files
        if shape.merge_every and number % shape.merge_every == 0 and room >= 3:
            positions.append(("merge", number))
            files, number = files + 3, number + 2
        else:
            positions.append(("simple", number))
            files, number = files + 1, number + 1
    return positions


def build(shape: Shape) -> list[App]:
    """Return every app with its migrations and final models, deterministically."""
    positions = _positions(shape)
    return [_build_app(shape, positions, index) for index in range(shape.apps)]


def _build_app(shape: Shape, positions: list[tuple[str, int]], index: int) -> App:
    label = f"a{index:03d}"
    previous = f"a{index - 1:03d}" if index else None
    changed = index >= shape.apps - shape.changed_apps
    migrations: list[Migration] = []
    item_fields = [("name", 'models.CharField(default="", max_length=40)')]
    rel_models: list[tuple[str, list[tuple[str, str]]]] = []
    head: list[str] = []  # the migrations the next one depends on

    def add(name: str, deps: list[str], ops: list[str], cross: Any = None, fk: bool = False) -> Migration:
        m = Migration(label, name, [(label, d) for d in deps] + ([cross] if cross else []), ops, uses_fk=fk)
        migrations.append(m)
        return m

    def add_field(number: int, name: str) -> str:
        rng = random.Random(f"{shape.seed}:{label}:{name}")
        migration_src, model_src = FIELD_KINDS[rng.randrange(len(FIELD_KINDS))]
        item_fields.append((name, model_src))
        return f'migrations.AddField(model_name="item", name="{name}", field={migration_src})'

    for kind, number in positions:
        cross = (previous, None) if previous and number % shape.cross_every == 0 and kind == "simple" else None
        cross_fk = cross and shape.fk_group != 1 and (not shape.fk_group or index % shape.fk_group != 0)
        if kind == "initial":
            ops = [
                'migrations.CreateModel(name="Item", fields=['
                f'("id", {ID_FIELD}), ("name", models.CharField(default="", max_length=40))])'
            ]
            head = [add("0001_initial", [], ops).name]
        elif kind == "merge":
            a = add(f"{number:04d}_item_b{number:04d}a", head, [add_field(number, f"b{number:04d}a")])
            b = add(f"{number:04d}_item_b{number:04d}b", head, [add_field(number, f"b{number:04d}b")])
            head = [add(f"{number + 1:04d}_merge", [a.name, b.name], []).name]
        elif number % shape.rel_every == 0:
            model = f"Rel{number:04d}"
            name = f"{number:04d}_rel{number:04d}"
            mfields = [
                ("label", 'models.CharField(default="", max_length=40)'),
                ("item", f'models.ForeignKey("{label}.Item", on_delete=models.CASCADE)'),
            ]
            fields = [
                f'("id", {ID_FIELD})',
                '("label", models.CharField(default="", max_length=40))',
                f'("item", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="{label}.item"))',
            ]
            if cross_fk:
                mfields.append(
                    ("up", f'models.ForeignKey("{previous}.Item", on_delete=models.CASCADE, related_name="+")')
                )
                fields.append(
                    '("up", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, '
                    f'related_name="+", to="{previous}.item"))'
                )
            rel_models.append((model, mfields))
            ops = [f'migrations.CreateModel(name="{model}", fields=[{", ".join(fields)}])']
            head = [add(name, head, ops, (previous, name) if cross else None, fk=True).name]
        else:
            name = f"{number:04d}_item_f{number:04d}"
            ops = [add_field(number, f"f{number:04d}")]
            head = [add(name, head, ops, (previous, name) if cross else None).name]
    if changed:
        for m in migrations[-shape.tail :]:
            m.tail = True
    if shape.squash_every and index % shape.squash_every == 0:
        migrations.append(_squash(label, migrations[: shape.squash_len]))
    return App(label, migrations, item_fields, rel_models)


def _squash(label: str, originals: list[Migration]) -> Migration:
    inside = {(m.app, m.name) for m in originals}
    if originals[-1].name.split("_", 1)[0] in {m.name.split("_", 1)[0] for m in originals[:-1]}:
        raise ValueError(f"squash_len cuts a merge shape in two ({originals[-1].name}); choose another squash_len")
    deps = sorted({d for m in originals for d in m.deps if d not in inside})
    last = originals[-1].name.split("_", 1)[0]
    return Migration(
        label,
        f"0001_squashed_{last}",
        deps,
        [op for m in originals for op in m.ops],
        replaces=[(m.app, m.name) for m in originals],
        uses_fk=any(m.uses_fk for m in originals),
    )


def count(apps: list[App]) -> dict[str, int]:
    migrations = [m for a in apps for m in a.migrations]
    return {
        "apps": len(apps),
        "migrations": len(migrations),
        "merges": sum(1 for m in migrations if m.name.endswith("_merge")),
        "squashes": sum(1 for m in migrations if m.replaces),
        "replaced": sum(len(m.replaces) for m in migrations),
        "cross_app_edges": sum(1 for m in migrations if not m.replaces for d in m.deps if d[0] != m.app),
        "models": sum(1 + len(a.rel_models) for a in apps),
        "cross_app_fks": sum(1 for a in apps for _, fields in a.rel_models for name, _ in fields if name == "up"),
        "k": sum(1 for m in migrations if m.tail),
    }


def rollback_targets(apps: list[App]) -> list[tuple[str, str]]:
    """``(app, last migration in r1)`` for each changed app, dependents first:
    the ``manage.py migrate APP TARGET`` sequence a user would run instead of
    ``migtool rollback r1``."""
    targets = []
    for app in reversed(apps):
        plain = [m for m in app.migrations if not m.replaces]
        if plain[-1].tail:
            targets.append((app.label, [m for m in plain if not m.tail][-1].name))
    return targets


# --------------------------------------------------------------------------- writing

SETTINGS = '''"""Settings of a generated migtool benchmark project (tests/bench/generate.py)."""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "migtool-bench-not-secret"
DEBUG = False
ALLOWED_HOSTS: list = []
INSTALLED_APPS = ["django.contrib.contenttypes"] + {apps!r}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

_url = os.environ.get("BENCH_DATABASE_URL", "")
if _url.startswith(("postgres://", "postgresql://")):
    _parts = urlsplit(_url)
    DATABASES = {{
        "default": {{
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(_parts.path.lstrip("/")),
            "USER": unquote(_parts.username or ""),
            "PASSWORD": unquote(_parts.password or ""),
            "HOST": _parts.hostname or "",
            "PORT": str(_parts.port or ""),
        }}
    }}
else:
    _path = _url[len("sqlite:///") :] if _url.startswith("sqlite:///") else ""
    DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": _path or BASE_DIR / "db.sqlite3"}}}}
'''

MANAGE = f'''#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{SETTINGS_MODULE}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
'''


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_project(apps: list[App], root: Path, *, tails: bool) -> None:
    """Write the project; without ``tails``, the migrations after the r1 boundary are left out
    (and removed, if an earlier call wrote them into ``root``)."""
    _write(root / "manage.py", MANAGE)
    _write(root / SETTINGS_PACKAGE / "__init__.py", "")
    _write(root / SETTINGS_PACKAGE / "settings.py", SETTINGS.format(apps=[a.label for a in apps]))
    for app in apps:
        _write(root / app.label / "__init__.py", "")
        _write(root / app.label / "models.py", app.models_source())
        _write(root / app.label / "migrations" / "__init__.py", "")
        for m in app.migrations:
            path = root / app.label / "migrations" / f"{m.name}.py"
            if tails or not m.tail:
                _write(path, m.source())
            else:  # written by an earlier call with tails: the project must not have it now
                path.unlink(missing_ok=True)


def child_env(database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    env.pop("MIGTOOL_RELEASES_DIR", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if database_url:
        env["BENCH_DATABASE_URL"] = database_url
    return env


def _migtool(root: Path, python: str, *args: str) -> None:
    result = subprocess.run(
        [python, "-m", "migtool", *args], cwd=root, env=child_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"migtool {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def versions(python: str) -> dict[str, str]:
    """The Django and migtool versions ``python`` imports."""
    django, migtool = subprocess.run(
        [python, "-c", "import django, migtool; print(django.get_version(), migtool.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {"django": django, "migtool": migtool}


def _fingerprint(shape: Shape, python: str) -> dict[str, object]:
    return {
        "shape": dataclasses.asdict(shape),
        "generator": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        **versions(python),
    }


def generate(shape: Shape, root: Path, python: str = sys.executable, *, force: bool = False) -> dict[str, object]:
    """Write the project with releases r1, r2 and the extra ones into ``root``.

    A project generated before from the same shape, generator and versions is
    reused as it is.  Returns the project's description (``count``, targets).
    """
    apps = build(shape)
    stamp = _fingerprint(shape, python)
    info = {**count(apps), "rollback_targets": rollback_targets(apps), "changed_apps": shape.changed_apps}
    stamp_path = root / STAMP
    if not force and stamp_path.is_file() and json.loads(stamp_path.read_text()) == {**stamp, "info": info}:
        return info
    if root.exists():
        shutil.rmtree(root)
    write_project(apps, root, tails=False)
    _migtool(root, python, "freeze", "--release", "r1")
    write_project(apps, root, tails=True)
    _migtool(root, python, "freeze", "--release", "r2")
    releases = root / "releases"
    r1 = json.loads((releases / "r1.json").read_text())
    for n in range(1, shape.extra_releases + 1):
        (releases / f"r0.{n}.json").write_text(json.dumps({**r1, "release": f"r0.{n}"}, indent=2, sort_keys=True))
    stamp_path.write_text(json.dumps({**stamp, "info": info}, indent=2))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", help=f"{', '.join(PRESETS)}, optionally with overrides: 'large:apps=20,per_app=100'")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--force", action="store_true", help="regenerate even if the directory is up to date")
    args = parser.parse_args()
    _, shape = parse_preset(args.preset)
    info = generate(shape, args.directory.resolve(), force=args.force)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
