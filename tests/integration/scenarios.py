"""Shared scenario builders: migration histories for integration tests.

Each builder returns the ``apps`` dict that ``make_project`` takes (the code as
it is *now*, after the release); the matching ``*_RELEASE`` constant names the
migrations that existed when the release was frozen.  ``only(apps, keys)``
cuts the history back to such a point, so a test can build the code in steps:
write the release's code, freeze, then add the rest.

Every table is ``<app>_<model>`` and every model has an ``id`` primary key, so
tests can insert and read rows with plain SQL on every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from projects import migration

Apps = dict[str, dict[str, str]]
Key = tuple[str, str]

# --------------------------------------------------------------------------- operation sources


def create_model(model: str, /, **fields: str) -> str:
    """``CreateModel`` with a BigAutoField ``id`` plus ``fields`` (name -> field source)."""
    parts = ["('id', models.BigAutoField(primary_key=True))"] + [f"({f!r}, {src})" for f, src in fields.items()]
    return f"migrations.CreateModel({model!r}, [{', '.join(parts)}])"


def add_field(model: str, name: str, field: str) -> str:
    return f"migrations.AddField({model!r}, {name!r}, {field})"


def alter_field(model: str, name: str, field: str) -> str:
    return f"migrations.AlterField({model!r}, {name!r}, {field})"


# shop.Item: table shop_item (id, name varchar(10) NOT NULL, qty integer NOT NULL, no defaults).
ITEM = create_model("Item", name="models.CharField(max_length=10)", qty="models.IntegerField()")
CAT = create_model("Cat", name="models.CharField(max_length=10)")


def linear(
    app: str,
    steps: Mapping[str, Sequence[str]],
    *,
    first_deps: Sequence[Key] = (),
    preambles: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """One app's migrations in a line, each depending on the one before (the first on ``first_deps``)."""
    result: dict[str, str] = {}
    previous: list[Key] = list(first_deps)
    for name, ops in steps.items():
        result[name] = migration(deps=previous, ops=ops, preamble=(preambles or {}).get(name, ""))
        previous = [(app, name)]
    return result


def shop_after_item(later: Mapping[str, Sequence[str]], preambles: Mapping[str, str] | None = None) -> Apps:
    """App ``shop``: ``0001_a`` creates Item, then ``later`` migrations in a line."""
    return {"shop": linear("shop", {"0001_a": [ITEM], **later}, preambles=preambles)}


def only(apps: Apps, keys: Iterable[Key]) -> Apps:
    """``apps`` cut back to the migrations in ``keys``; apps left with none are dropped."""
    wanted = set(keys)
    cut = {label: {n: src for n, src in migs.items() if (label, n) in wanted} for label, migs in apps.items()}
    return {label: migs for label, migs in cut.items() if migs}


# --------------------------------------------------------------------------- scenarios

ITEM_RELEASE: frozenset[Key] = frozenset({("shop", "0001_a")})


def merge_shape() -> Apps:
    """shop: 0001_a -> 0002_b (AddField Item.b), 0001_a -> 0002_c (CreateModel Cat),
    0003_d = merge(0002_b, 0002_c); other.0001_x: X with an FK to shop.Cat, after shop.0002_c.

    The release (``MERGE_RELEASE``) is {0001_a, 0002_b}: the parallel branch, the
    merge and all of ``other`` came later.
    """
    return {
        "shop": {
            "0001_a": migration(ops=[ITEM], initial=True),
            "0002_b": migration(
                deps=[("shop", "0001_a")], ops=[add_field("Item", "b", "models.IntegerField(null=True)")]
            ),
            "0002_c": migration(deps=[("shop", "0001_a")], ops=[CAT]),
            "0003_d": migration(deps=[("shop", "0002_b"), ("shop", "0002_c")]),
        },
        "other": {
            "0001_x": migration(
                deps=[("shop", "0002_c")],
                ops=[create_model("X", cat="models.ForeignKey('shop.Cat', on_delete=models.CASCADE)")],
                initial=True,
            ),
        },
    }


MERGE_RELEASE: frozenset[Key] = frozenset({("shop", "0001_a"), ("shop", "0002_b")})


def late_app_shape() -> Apps:
    """shop.0001_a (the release, ``ITEM_RELEASE``); app ``late`` (two migrations, FK to
    shop.Item) added after it."""
    note = create_model("Note", item="models.ForeignKey('shop.Item', on_delete=models.CASCADE)")
    return {
        **shop_after_item({}),
        "late": linear(
            "late",
            {"0001_note": [note], "0002_body": [add_field("Note", "body", "models.TextField(null=True)")]},
            first_deps=[("shop", "0001_a")],
        ),
    }


def irreversible_shape() -> Apps:
    """shop.0001_a (release), 0002_fill = RunPython without reverse_code, 0003_price (AddField)."""
    fill = "def fill(apps, schema_editor):\n    pass\n"
    return shop_after_item(
        {
            "0002_fill": ["migrations.RunPython(fill)"],
            "0003_price": [add_field("Item", "price", "models.IntegerField(null=True)")],
        },
        preambles={"0002_fill": fill},
    )


def null_allowed_shape() -> Apps:
    """shop.0001_a (release, Item.qty NOT NULL without default), 0002_qty_null: qty null=True."""
    return shop_after_item({"0002_qty_null": [alter_field("Item", "qty", "models.IntegerField(null=True)")]})


def longer_name_shape() -> Apps:
    """shop.0001_a (release, Item.name max_length 10), 0002_name_long: max_length 100."""
    return shop_after_item({"0002_name_long": [alter_field("Item", "name", "models.CharField(max_length=100)")]})


MISSING_TABLE_SQL = "SELECT * FROM table_that_does_not_exist"


def failing_reverse_shape() -> Apps:
    """shop.0001_a (release), 0002_probe = RunSQL whose *reverse* fails at run time (no
    pre-flight check can tell), then 0003_price (AddField) and 0004_cat (CreateModel).

    0002_probe is the earliest step of the plan, so it runs last, after the
    later steps have been reverted.
    """
    probe = f"migrations.RunSQL(sql='SELECT 1', reverse_sql={MISSING_TABLE_SQL!r})"
    return shop_after_item(
        {
            "0002_probe": [probe],
            "0003_price": [add_field("Item", "price", "models.IntegerField(null=True)")],
            "0004_cat": [CAT],
        }
    )


SQUASH = "0001_squashed_0003_f3"


def squash_shape() -> Apps:
    """App q: 0001_q (Q), 0002_f2, 0003_f3 (AddFields), ``0001_squashed_0003_f3`` replacing
    all three, and 0004_f4 depending on the squash.

    The release (``SQUASH_RELEASE``) is {0001_q, 0002_f2}: frozen before 0003
    and the squash existed, so it lies inside the squash.
    """
    f2, f3 = (
        add_field("Q", "f2", "models.IntegerField(null=True)"),
        add_field("Q", "f3", "models.IntegerField(null=True)"),
    )
    originals = linear("q", {"0001_q": [create_model("Q")], "0002_f2": [f2], "0003_f3": [f3]})
    squashed = create_model("Q", f2="models.IntegerField(null=True)", f3="models.IntegerField(null=True)")
    replaced = [("q", name) for name in originals]
    return {
        "q": {
            **originals,
            SQUASH: migration(ops=[squashed], replaces=replaced, initial=True),
            "0004_f4": migration(deps=[("q", SQUASH)], ops=[add_field("Q", "f4", "models.IntegerField(null=True)")]),
        }
    }


SQUASH_RELEASE: frozenset[Key] = frozenset({("q", "0001_q"), ("q", "0002_f2")})
SQUASH_ORIGINALS: tuple[str, ...] = ("0001_q", "0002_f2", "0003_f3")

PLACEHOLDER: Key = ("bj", "0001_placeholder_patch")


def shared_placeholder_shape() -> Apps:
    """django-migrations.md §1.8: bj.0001_initial (B), then 0002_a and 0003_b, both
    ``replaces = [bj.0001_placeholder_patch]`` (not on disk), each an AddField
    with a default (pa, pb).  The release (``PLACEHOLDER_RELEASE``) is {0001_initial, 0002_a}.
    """
    return {
        "bj": {
            "0001_initial": migration(ops=[create_model("B")], initial=True),
            "0002_a": migration(
                deps=[("bj", "0001_initial")],
                ops=[add_field("B", "pa", "models.IntegerField(default=0)")],
                replaces=[PLACEHOLDER],
            ),
            "0003_b": migration(
                deps=[("bj", "0002_a")],
                ops=[add_field("B", "pb", "models.IntegerField(default=0)")],
                replaces=[PLACEHOLDER],
            ),
        }
    }


PLACEHOLDER_RELEASE: frozenset[Key] = frozenset({("bj", "0001_initial"), ("bj", "0002_a")})


FK_RELEASE: frozenset[Key] = frozenset({("shop", "0001_a"), ("shop", "0002_note")})


def fk_violating_reverse_shape(*, last_atomic: bool = True) -> Apps:
    """shop.0001_a, 0002_note (Cat, and Note with an FK to Cat) = the release (``FK_RELEASE``);
    then 0003_probe = RunSQL whose reverse inserts a Note pointing at no Cat, and 0004_price.

    The reverse of 0003_probe fails on the foreign key at run time, after 0004_price
    was reverted.  On SQLite it fails in the schema editor's ``PRAGMA foreign_key_check``,
    which leaves the connection inside an atomic block (django-migrations.md §2.4).
    ``last_atomic=False`` makes 0004_price non-atomic, so the plan runs step by step.
    """
    note = create_model("Note", cat="models.ForeignKey('shop.Cat', on_delete=models.CASCADE)")
    probe = "migrations.RunSQL(sql='SELECT 1', reverse_sql='INSERT INTO shop_note (cat_id) VALUES (999)')"
    apps = shop_after_item({"0002_note": [CAT, note], "0003_probe": [probe]})
    apps["shop"]["0004_price"] = migration(
        deps=[("shop", "0003_probe")],
        ops=[add_field("Item", "price", "models.IntegerField(null=True)")],
        atomic=None if last_atomic else False,
    )
    return apps


PARTIAL_SQUASH = "0001_squashed_0002_f2"


def partial_squash_shape() -> Apps:
    """shop.0001_a (release ``ITEM_RELEASE``), 0002_probe = RunSQL whose *reverse* fails at run time;
    app p after it: 0001_p (P), 0002_f2 (AddField), ``0001_squashed_0002_f2`` replacing both,
    then 0003_boom = RunSQL that fails *forwards*.

    Migrated to ``p.0001_p`` the squash is partly applied, so Django's graph holds the originals.
    Unapplying 0001_p, or applying 0002_f2, changes that: a loader built afterwards puts the
    squash back and leaves out the migration just run.  0001_p and 0002_f2 are ``atomic = False``,
    so every backend runs the batch step by step and has to undo it that way.
    """
    probe = f"migrations.RunSQL(sql='SELECT 1', reverse_sql={MISSING_TABLE_SQL!r})"
    boom = f"migrations.RunSQL(sql={MISSING_TABLE_SQL!r}, reverse_sql='SELECT 1')"
    f2 = "models.IntegerField(null=True)"
    after_probe = [("shop", "0002_probe")]
    return {
        **shop_after_item({"0002_probe": [probe]}),
        "p": {
            "0001_p": migration(deps=after_probe, ops=[create_model("P")], atomic=False, initial=True),
            "0002_f2": migration(deps=[("p", "0001_p")], ops=[add_field("P", "f2", f2)], atomic=False),
            PARTIAL_SQUASH: migration(
                deps=after_probe,
                ops=[create_model("P", f2=f2)],
                replaces=[("p", "0001_p"), ("p", "0002_f2")],
                initial=True,
            ),
            "0003_boom": migration(deps=[("p", "0002_f2")], ops=[boom]),
        },
    }


# --------------------------------------------------------------------------- dependencies on replaced names (issue 10)

DOC = create_model("Doc", title="models.CharField(max_length=20, null=True)")
RULE = create_model("Rule", doc="models.ForeignKey('documents.Doc', on_delete=models.CASCADE)")


def squashed_apps_stages() -> list[Apps]:
    """Three versions of a project whose apps were squashed and the originals deleted
    (the shape of issue 10), each frozen as a release (r1, r2, r3):

    1. documents: 0001_initial (Doc), 0002_body; mail: 0001_initial (Rule, FK to Doc), 0002_name.
    2. Both apps squashed, originals deleted.  What was written after the squash still
       names the originals: documents.0003_note depends on documents.0002_body (same
       app); the mail squash on documents.0001_initial (another app); mail.0003_flag on
       mail.0002_name and on ``documents.__first__`` (now the squash).
    3. documents.0004_size; mail.0004_archive depends on documents.0002_body and on
       ``documents.__latest__``.
    """
    body = add_field("Doc", "body", "models.TextField(null=True)")
    name = add_field("Rule", "name", "models.CharField(max_length=20, null=True)")
    first = {
        "documents": linear("documents", {"0001_initial": [DOC], "0002_body": [body]}),
        "mail": linear("mail", {"0001_initial": [RULE], "0002_name": [name]}, first_deps=[("documents", "__first__")]),
    }
    doc_squash = create_model(
        "Doc", title="models.CharField(max_length=20, null=True)", body="models.TextField(null=True)"
    )
    rule_squash = create_model(
        "Rule",
        doc="models.ForeignKey('documents.Doc', on_delete=models.CASCADE)",
        name="models.CharField(max_length=20, null=True)",
    )
    second = {
        "documents": {
            "0001_squashed_0002_body": migration(
                ops=[doc_squash], replaces=[("documents", "0001_initial"), ("documents", "0002_body")], initial=True
            ),
            "0003_note": migration(
                deps=[("documents", "0002_body")], ops=[add_field("Doc", "note", "models.TextField(null=True)")]
            ),
        },
        "mail": {
            "0001_squashed_0002_name": migration(
                deps=[("documents", "0001_initial")],
                ops=[rule_squash],
                replaces=[("mail", "0001_initial"), ("mail", "0002_name")],
                initial=True,
            ),
            "0003_flag": migration(
                deps=[("mail", "0002_name"), ("documents", "__first__")],
                ops=[add_field("Rule", "flag", "models.BooleanField(null=True)")],
            ),
        },
    }
    archive = create_model("Archive", doc="models.ForeignKey('documents.Doc', on_delete=models.CASCADE)")
    third = {
        "documents": {
            **second["documents"],
            "0004_size": migration(
                deps=[("documents", "0003_note")], ops=[add_field("Doc", "size", "models.IntegerField(null=True)")]
            ),
        },
        "mail": {
            **second["mail"],
            "0004_archive": migration(
                deps=[("mail", "0003_flag"), ("documents", "0002_body"), ("documents", "__latest__")], ops=[archive]
            ),
        },
    }
    return [first, second, third]


BJ_PLACEHOLDER: Key = ("bj", "0001_placeholder")


def nested_and_shared_stages() -> list[Apps]:
    """Three versions of a project with the other ways a name can be replaced (r1, r2, r3):

    1. bj: 0001_initial (B), 0002_a; cal: 0001_initial (Ev) with ``run_before = [bj.0002_a]``.
    2. bj squashed into ``0001_squashed_0002_a`` (A), originals deleted, so cal.0001's
       ``run_before`` names a gone name; bj.0003_b; bj.0004_c and bj.0005_d both replace
       the placeholder ``bj.0001_placeholder`` (django-migrations.md §1.8), which
       cal.0002_p depends on.
    3. A squashed again with 0003_b into ``0001_squashed_0003_b`` (B, replacing A's name
       and the originals), A and 0003_b deleted: cal.0003_z depends on A's name.
    """
    pa, pb = (add_field("B", f, "models.IntegerField(null=True)") for f in ("pa", "pb"))
    ev = create_model("Ev")
    cal_first = migration(ops=[ev], initial=True, run_before=[("bj", "0002_a")])
    first = {
        "bj": linear("bj", {"0001_initial": [create_model("B")], "0002_a": [pa]}),
        "cal": {"0001_initial": cal_first},
    }
    a_name, b_name = "0001_squashed_0002_a", "0001_squashed_0003_b"
    pc, pd = (add_field("B", f, "models.IntegerField(null=True)") for f in ("pc", "pd"))
    later_bj = {
        "0004_c": migration(deps=[("bj", "0003_b")], ops=[pc], replaces=[BJ_PLACEHOLDER]),
        "0005_d": migration(deps=[("bj", "0004_c")], ops=[pd], replaces=[BJ_PLACEHOLDER]),
    }
    cal_p = migration(
        deps=[BJ_PLACEHOLDER, ("cal", "0001_initial")], ops=[add_field("Ev", "p", "models.IntegerField(null=True)")]
    )
    second = {
        "bj": {
            a_name: migration(
                ops=[create_model("B", pa="models.IntegerField(null=True)")],
                replaces=[("bj", "0001_initial"), ("bj", "0002_a")],
                initial=True,
            ),
            "0003_b": migration(deps=[("bj", a_name)], ops=[pb]),
            **later_bj,
        },
        "cal": {"0001_initial": cal_first, "0002_p": cal_p},
    }
    squashed_b = create_model("B", pa="models.IntegerField(null=True)", pb="models.IntegerField(null=True)")
    third = {
        "bj": {
            b_name: migration(
                ops=[squashed_b],
                replaces=[("bj", a_name), ("bj", "0001_initial"), ("bj", "0002_a"), ("bj", "0003_b")],
                initial=True,
            ),
            **later_bj,
        },
        "cal": {
            **second["cal"],
            "0003_z": migration(
                deps=[("bj", a_name), ("cal", "0002_p")], ops=[add_field("Ev", "z", "models.IntegerField(null=True)")]
            ),
        },
    }
    return [first, second, third]


FILL_NAMES = """
def fill_names(apps, schema_editor):
    apps.get_model("shop", "Item").objects.filter(name__isnull=True).update(name="filled")
"""


def filled_by_reverse_shape() -> Apps:
    """shop.0001_a (release ``ITEM_RELEASE``), 0002_nullable lets Item.name be NULL, and
    0003_fill is a data migration whose *reverse* fills the NULL names.

    Rolled back, 0003_fill's reverse runs first, so restoring NOT NULL in
    0002_nullable succeeds over rows that are NULL today.
    """
    return shop_after_item(
        {
            "0002_nullable": [alter_field("Item", "name", "models.CharField(max_length=10, null=True)")],
            "0003_fill": ["migrations.RunPython(migrations.RunPython.noop, fill_names)"],
        },
        preambles={"0003_fill": FILL_NAMES},
    )


RECORD_LOCKS = """
import json


def record_locks(apps, schema_editor):
    sql = (
        "SELECT l.locktype, l.mode, c.relname FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation "
        "WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation'"
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)
        rows = sorted({(mode, name or "(dropped)") for _, mode, name in cursor.fetchall()})
    with open("locks.json", "w") as out:
        json.dump(rows, out)
"""


def lock_probe_shape() -> Apps:
    """shop.0001_a (release ``ITEM_RELEASE``); 0002_probe, whose reverse writes the relation
    locks its transaction holds to ``locks.json`` (PostgreSQL); then the reverts whose locks
    matter: 0003_name widens name (reverted: a type change), 0004_price adds a column,
    0005_cat creates a table.  0002_probe's reverse runs last, holding every lock the
    rollback took."""
    return shop_after_item(
        {
            "0002_probe": ["migrations.RunPython(migrations.RunPython.noop, record_locks)"],
            "0003_name": [alter_field("Item", "name", "models.CharField(max_length=20)")],
            "0004_price": [add_field("Item", "price", "models.IntegerField(null=True)")],
            "0005_cat": [CAT],
        },
        preambles={"0002_probe": RECORD_LOCKS},
    )
