"""Random valid migration projects for the conformance suite (``test_conformance.py``).

A generated project is a *history*: batches of changes to the migration files,
as a project's releases make them.  Each batch adds migrations (a migration
after its app's last one, a branch and its merge, one depending on another app,
possibly through ``__first__``/``__latest__`` or a replaced name, one with
``run_before``, ones replacing a placeholder that never existed), squashes a run
of an app's migrations (squashes of squashes included, with or without the
originals' names), or deletes the originals a squash replaced.  Cutting the
history after a batch gives the code of an earlier release.

The model also says, without migtool, what a rollback to a cut must do:
which migrations (squash-free "atoms") the cut consists of, and which atoms
are irreversible.  Every app has one table ``<app>_m``; each migration adds a
nullable column, so the schema shows which migrations are applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hypothesis import strategies as st
from projects import migration

Key = tuple[str, str]
Apps = dict[str, dict[str, str]]

FORWARD = "def forward(apps, schema_editor):\n    pass\n"
IRREVERSIBLE = "migrations.RunPython(forward)"


@dataclass
class Mig:
    """One migration file of the model."""

    deps: list[Key]
    ops: list[str]
    replaces: list[Key] = field(default_factory=list)
    run_before: list[Key] = field(default_factory=list)

    @property
    def irreversible(self) -> bool:
        return IRREVERSIBLE in self.ops

    def source(self) -> str:
        return migration(
            deps=self.deps,
            ops=self.ops,
            replaces=self.replaces or None,
            run_before=self.run_before,
            preamble=FORWARD if self.irreversible else "",
        )


@dataclass
class History:
    """Batches of file changes: a key maps to the file added, or to None when deleted."""

    apps: list[str]
    batches: list[dict[Key, Mig | None]]
    created: dict[Key, Mig]  # every file ever written

    def disk(self, upto: int) -> dict[Key, Mig]:
        """The migration files after batch ``upto`` (-1: before the first)."""
        files: dict[Key, Mig] = {}
        for batch in self.batches[: upto + 1]:
            for key, mig in batch.items():
                if mig is None:
                    files.pop(key, None)
                else:
                    files[key] = mig
        return files

    def code(self, upto: int) -> Apps:
        files = self.disk(upto)
        return {app: {k[1]: m.source() for k, m in sorted(files.items()) if k[0] == app} for app in self.apps}

    def replaces(self) -> dict[Key, list[Key]]:
        """Every squash (or placeholder replacer) ever written, with its ``replaces``."""
        return {k: m.replaces for k, m in self.created.items() if m.replaces}

    def atoms(self, keys: Iterable[Key]) -> set[Key]:
        """The squash-free names ``keys`` stand for, through every squash ever written."""
        result: set[Key] = set()
        pending = list(keys)
        while pending:
            key = pending.pop()
            mig = self.created.get(key)
            if mig is not None and mig.replaces:
                pending.extend(mig.replaces)
            else:
                result.add(key)
        return result

    def expected_refusal(self, cut: int) -> bool:
        """Whether a rollback from the last code, fully migrated, to the code at ``cut``
        must be refused: an irreversible atom outside the cut, or a cut lying inside a
        squash whose originals outside the cut are gone from disk (no code can unapply
        them one by one, so Django cannot reach the cut either)."""
        final = self.disk(len(self.batches) - 1)
        inside = self.atoms(self.disk(cut))
        applied = self.atoms(final)
        irreversible = {k for k in applied - inside if k in self.created and self.created[k].irreversible}
        nested = {r for mig in final.values() for r in mig.replaces}
        for key, mig in final.items():
            if mig.replaces and key not in nested:
                atoms = self.atoms([key])
                if atoms & inside and not atoms <= inside and any(a not in final for a in atoms - inside):
                    return True
        return bool(irreversible)


class _Builder:
    """Draws one history, keeping it valid for Django as it goes."""

    def __init__(self, draw: st.DrawFn, apps: list[str], nested_on_disk: bool, shared_with_edges: bool) -> None:
        self.draw, self.apps = draw, apps
        self.nested_on_disk, self.shared_with_edges = nested_on_disk, shared_with_edges
        self.files: dict[Key, Mig] = {}
        self.created: dict[Key, Mig] = {}
        self.order: dict[Key, int] = {}  # creation order of every name, placeholders included
        self.batch_of: dict[Key, int] = {}
        self.tail: dict[str, Key] = {}
        self.numbers = dict.fromkeys(apps, 0)
        self.columns = 0
        self.batch: dict[Key, Mig | None] = {}
        self.index = 0

    # -- primitives

    def name(self, app: str, kind: str) -> Key:
        self.numbers[app] += 1
        return (app, f"{self.numbers[app]:04d}_{kind}")

    def column(self) -> str:
        self.columns += 1
        return f"migrations.AddField('M', 'f{self.columns}', models.IntegerField(null=True))"

    def write(self, key: Key, mig: Mig) -> Key:
        self.files[key] = self.created[key] = self.batch[key] = mig
        self.order.setdefault(key, len(self.order))
        self.batch_of[key] = self.index
        return key

    def step_ops(self, app: str) -> list[str]:
        ops = (
            [self.column()]
            if app in self.tail
            else ["migrations.CreateModel('M', [('id', models.BigAutoField(primary_key=True))])"]
        )
        if self.draw(st.integers(0, 4)) == 0:
            ops.append(IRREVERSIBLE)
        return ops

    def base(self, app: str) -> list[Key]:
        return [self.tail[app]] if app in self.tail else []

    # -- actions

    def add(self, app: str) -> None:
        deps = self.base(app)
        others = [a for a in self.apps if a != app and a in self.tail]
        if others and app in self.tail and self.draw(st.booleans()):
            other = self.draw(st.sampled_from(others))
            names = sorted(k for k in self.order if k[0] == other and k[1] != "__placeholder")
            choices = [*names, (other, "__first__")]
            if self.last_batch:
                choices.append((other, "__latest__"))  # resolves differently once the app grows
            deps.append(self.draw(st.sampled_from(choices)))
        self.tail[app] = self.write(self.name(app, "m"), Mig(deps, self.step_ops(app)))

    def merge(self, app: str) -> None:
        if app not in self.tail:
            return self.add(app)
        left = self.write(self.name(app, "x"), Mig(self.base(app), self.step_ops(app)))
        right = self.write(self.name(app, "y"), Mig(self.base(app), [self.column()]))
        self.tail[app] = self.write(self.name(app, "merge"), Mig([left, right], []))

    def run_before(self, app: str) -> None:
        """A migration that must run before one written earlier in this batch, in another app."""
        targets = [k for k, m in self.batch.items() if m is not None and k[0] != app and not m.replaces]
        if app not in self.tail or self.batch_of[self.tail[app]] == self.index or not targets:
            return self.add(app)
        target = self.draw(st.sampled_from(sorted(targets)))
        self.tail[app] = self.write(self.name(app, "rb"), Mig(self.base(app), [self.column()], run_before=[target]))

    def placeholder(self, app: str) -> None:
        """The patch-branch trick: one or two migrations replacing a name that never existed."""
        if app not in self.tail:
            return self.add(app)
        patch = (app, f"{self.numbers[app] + 1:04d}_patch")
        self.order.setdefault(patch, len(self.order))
        twice = self.draw(st.booleans())
        for _ in range(2 if twice else 1):
            mig = Mig(self.base(app), [self.column()], replaces=[patch])
            self.tail[app] = self.write(self.name(app, "p"), mig)
        others = [a for a in self.apps if a != app and a in self.tail]
        if others and (self.shared_with_edges or not twice) and self.draw(st.booleans()):
            other = self.draw(st.sampled_from(others))
            self.tail[other] = self.write(self.name(other, "dp"), Mig([*self.base(other), patch], [self.column()]))

    def squash(self, app: str) -> None:
        units = self.units(app)
        older = [u for u in units if self.batch_of[u] < self.index]
        if len(older) < 2:
            return self.add(app)
        start = self.draw(st.integers(0, len(older) - 2))
        end = self.draw(st.integers(start + 1, len(older) - 1))
        run = older[start : end + 1]
        nested = any(self.files[u].replaces for u in run)
        delete = self.draw(st.booleans()) or (nested and not self.nested_on_disk)
        replaced = list(run)
        if nested and delete and self.draw(st.integers(0, 3)):  # hand-written: the originals' names too
            replaced += sorted(self.stands_for(run) - set(run), key=self.order.__getitem__)
        inner = self.stands_for(run) | set(run)
        deps = sorted({d for u in inner if u in self.created for d in self.created[u].deps} - inner)
        squash, mig = self.name(app, "squashed"), Mig(deps, [op for u in run for op in self.files[u].ops], replaced)
        doomed = sorted(inner & set(self.files)) if delete else []
        files = {k: m for k, m in self.files.items() if k not in doomed}
        if not self.acyclic({**files, squash: mig}, {**self.created, squash: mig}):
            return
        self.write(squash, mig)
        self.order[squash] = min(self.order[u] for u in run)
        for key in doomed:
            self.files.pop(key)
            self.batch[key] = None

    def delete_originals(self, app: str) -> None:
        """Delete the files a squash on disk replaces (the usual step after squashing)."""
        squashes = [k for k, m in self.files.items() if k[0] == app and m.replaces and self.batch_of[k] < self.index]
        gone = {k: self.stands_for([k]) & set(self.files) for k in squashes}
        candidates = sorted(k for k, names in gone.items() if names)
        if not candidates:
            return self.add(app)
        for key in sorted(gone[self.draw(st.sampled_from(candidates))]):
            self.files.pop(key)
            self.batch[key] = None

    # -- model

    @property
    def last_batch(self) -> bool:
        return self.index == self.batches - 1

    def stands_for(self, keys: Iterable[Key], created: dict[Key, Mig] | None = None) -> set[Key]:
        """Every name ``keys`` replace, recursively (not ``keys`` themselves)."""
        created = self.created if created is None else created
        result: set[Key] = set()
        pending = [r for k in keys for r in created[k].replaces]
        while pending:
            key = pending.pop()
            if key not in result:
                result.add(key)
                pending.extend(created[key].replaces if key in created else ())
        return result

    def units(self, app: str) -> list[Key]:
        """The app's files not replaced by another file on disk, in history order."""
        hidden = self.stands_for(k for k in self.files if self.files[k].replaces)
        return sorted((k for k in self.files if k[0] == app and k not in hidden), key=self.order.__getitem__)

    def acyclic(self, files: dict[Key, Mig], created: dict[Key, Mig]) -> bool:
        """No cycle in ``files`` once every squash on disk stands for what it replaces
        (Django's view with nothing applied)."""
        top: dict[Key, Key] = {}
        for key in sorted(files, key=lambda k: -len(self.stands_for([k], created))):
            for name in self.stands_for([key], created) | {key}:
                top.setdefault(name, key)
        parents: dict[Key, set[Key]] = {}
        for key, mig in files.items():
            node = top.get(key, key)
            parents.setdefault(node, set()).update(
                top.get(d, d) for d in mig.deps if d[1] not in ("__first__", "__latest__")
            )
            for later in mig.run_before:
                parents.setdefault(top.get(later, later), set()).add(node)
        state: dict[Key, int] = {}

        def visit(node: Key) -> bool:
            if state.get(node) == 1:
                return False
            if state.get(node) == 2:
                return True
            state[node] = 1
            ok = all(visit(p) for p in parents.get(node, ()) if p != node)
            state[node] = 2
            return ok

        return all(visit(node) for node in list(parents))


@st.composite
def histories(draw: st.DrawFn, *, nested_on_disk: bool, shared_with_edges: bool) -> History:
    """A random history of 2 to 4 batches over 2 or 3 apps.

    ``nested_on_disk``: a squash may replace a squash still on disk (Django 6.0+;
    earlier Django resolves those in hash-seed order).  ``shared_with_edges``: a
    migration may depend on a placeholder two migrations replace (Django 6.1+,
    which loads in a fixed order).
    """
    apps = ["a", "b", "c"][: draw(st.integers(2, 3))]
    builder = _Builder(draw, apps, nested_on_disk, shared_with_edges)
    builder.batches = draw(st.integers(2, 4))
    batches: list[dict[Key, Mig | None]] = []
    actions = [
        builder.add,
        builder.add,
        builder.merge,
        builder.run_before,
        builder.placeholder,
        builder.squash,
        builder.squash,
        builder.delete_originals,
    ]
    for index in range(builder.batches):
        builder.index, builder.batch = index, {}
        for _ in range(draw(st.integers(1, 3))):
            action = draw(st.sampled_from(actions))
            action(draw(st.sampled_from(apps)))
        batches.append(builder.batch)
    return History(apps, batches, builder.created)
