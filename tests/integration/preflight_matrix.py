"""The prediction matrix: every pre-flight check, the states that make its revert pass and fail.

``CELLS`` is the one table ``test_preflight_matrix.py`` runs and the README
prints as "what the pre-flight checks, per backend" (``readme_table``).  Each
cell is one app, ``mx_<name>``: ``0001_initial`` creates its models, and
``0002_step`` holds the one operation whose revert the check judges.  Its
``passing`` and ``failing`` SQL put the rows into the tables as ``0002_step``
left them (``reset`` empties them first).  The per-backend words say what
Django's real revert of ``0002_step`` does over the failing rows; the passing
rows revert everywhere.  ``reports`` is what the pre-flight must name then
(table, constraint or column, and the count) wherever the word is not a bare
"passes".
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

DJANGO = tuple(int(part) for part in version("django").split(".")[:2])
BLOCKS, PASSES = "blocks", "passes"
# Django <= 5.2 drops a column on PostgreSQL with CASCADE; 6.0 without.
BLOCKS_ON_DJANGO_6 = "blocks on Django 6.0+; drops the views (data loss) on <= 5.2"
# CheckConstraint(check=...) became condition= in Django 5.1; 6.0 removed check=.
CHECK_KW = "condition" if DJANGO >= (5, 1) else "check"
ID = "('id', models.BigAutoField(primary_key=True))"


@dataclass(frozen=True)
class Cell:
    name: str
    check: str  # README: what is restored, and over what
    models: tuple[str, ...]  # operations of 0001_initial
    step: str  # the one operation of 0002_step
    reset: tuple[str, ...]
    passing: tuple[str, ...]
    failing: tuple[str, ...]
    sqlite: str
    postgresql: str
    mysql: str
    reports: str
    preamble: str = ""
    since_django: tuple[int, int] = (4, 2)

    @property
    def app(self) -> str:
        return f"mx_{self.name}"

    def revert_fails(self, backend: str) -> bool:
        """Whether Django's real revert fails over the failing rows on ``backend``."""
        word = getattr(self, backend)
        if word == BLOCKS_ON_DJANGO_6:
            return DJANGO >= (6, 0)
        return str(word).startswith(BLOCKS)


def model(name: str, *fields: str, options: str = "") -> str:
    extra = f", options={{{options}}}" if options else ""
    return f"migrations.CreateModel({name!r}, [{', '.join((ID, *fields))}]{extra})"


def item(*fields: str, options: str = "") -> tuple[str, ...]:
    return (model("Item", *fields, options=options),)


def parent_child(*child_fields: str) -> tuple[str, ...]:
    return (model("Parent"), model("Child", *child_fields))


def fk(app: str, **extra: object) -> str:
    options = "".join(f", {key}={value!r}" for key, value in extra.items())
    return f"models.ForeignKey('{app}.parent', models.CASCADE{options})"


def _cells() -> tuple[Cell, ...]:
    both = ("DELETE FROM mx_{0}_child", "DELETE FROM mx_{0}_parent")
    return (
        Cell(
            "notnull",
            "NOT NULL restored over NULLs",
            item("('note', models.CharField(max_length=20))"),
            "migrations.AlterField('item', 'note', models.CharField(max_length=20, null=True))",
            ("DELETE FROM mx_notnull_item",),
            ("INSERT INTO mx_notnull_item (note) VALUES ('x')",),
            ("INSERT INTO mx_notnull_item (note) VALUES (NULL)",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "mx_notnull_item.note, but the column is NULL in 1 row",
        ),
        Cell(
            "maxlen",
            "shorter `max_length` restored over longer values",
            item("('code', models.CharField(max_length=10))"),
            "migrations.AlterField('item', 'code', models.CharField(max_length=100))",
            ("DELETE FROM mx_maxlen_item",),
            ("INSERT INTO mx_maxlen_item (code) VALUES ('short')",),
            (f"INSERT INTO mx_maxlen_item (code) VALUES ('{'x' * 50}')",),
            "passes (not enforced; noted)",
            BLOCKS,
            BLOCKS,
            "1 value longer than 10",
        ),
        Cell(
            "uniquefield",
            "`unique=True` restored over duplicates",
            item("('code', models.CharField(max_length=10, unique=True))"),
            "migrations.AlterField('item', 'code', models.CharField(max_length=10))",
            ("DELETE FROM mx_uniquefield_item",),
            ("INSERT INTO mx_uniquefield_item (code) VALUES ('a'), ('b')",),
            ("INSERT INTO mx_uniquefield_item (code) VALUES ('a'), ('a')",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "mx_uniquefield_item.code, but the column has 1 duplicated value",
        ),
        Cell(
            "together",
            "`unique_together` restored over duplicates",
            item(
                "('code', models.CharField(max_length=10))",
                "('note', models.CharField(max_length=10))",
                options="'unique_together': {('code', 'note')}",
            ),
            "migrations.AlterUniqueTogether('item', set())",
            ("DELETE FROM mx_together_item",),
            ("INSERT INTO mx_together_item (code, note) VALUES ('a', 'x'), ('a', 'y')",),
            ("INSERT INTO mx_together_item (code, note) VALUES ('a', 'x'), ('a', 'x')",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "1 combination of (code, note)",
        ),
        Cell(
            "intfromtext",
            "an integer type restored over text",
            item("('ref', models.IntegerField(null=True))"),
            "migrations.AlterField('item', 'ref', models.CharField(max_length=20, null=True))",
            ("DELETE FROM mx_intfromtext_item",),
            ("INSERT INTO mx_intfromtext_item (ref) VALUES ('12'), (NULL)",),
            ("INSERT INTO mx_intfromtext_item (ref) VALUES ('abc')",),
            PASSES,
            BLOCKS,
            BLOCKS,
            "1 non-integer value",
        ),
        Cell(
            "check",
            "`CheckConstraint` restored over violating rows (NULL passes a CHECK)",
            item(
                "('qty', models.IntegerField(null=True))",
                options="'constraints': "
                f"[models.CheckConstraint({CHECK_KW}=models.Q(qty__gte=0), name='mx_check_qty')]",
            ),
            "migrations.RemoveConstraint('item', 'mx_check_qty')",
            ("DELETE FROM mx_check_item",),
            ("INSERT INTO mx_check_item (qty) VALUES (1), (NULL)",),
            ("INSERT INTO mx_check_item (qty) VALUES (-1), (-2), (NULL)",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "check constraint mx_check_qty on mx_check_item, but 2 rows violate it",
        ),
        Cell(
            "uniquecond",
            "conditional `UniqueConstraint` restored over duplicates (MariaDB: Django does not create it)",
            item(
                "('code', models.CharField(max_length=10))",
                "('active', models.BooleanField())",
                options="'constraints': [models.UniqueConstraint(fields=['code'], "
                "condition=models.Q(active=True), name='mx_uniquecond')]",
            ),
            "migrations.RemoveConstraint('item', 'mx_uniquecond')",
            ("DELETE FROM mx_uniquecond_item",),
            ("INSERT INTO mx_uniquecond_item (code, active) VALUES ('a', TRUE), ('a', FALSE), ('a', FALSE)",),
            (
                "INSERT INTO mx_uniquecond_item (code, active) "
                "VALUES ('a', TRUE), ('a', TRUE), ('b', FALSE), ('b', FALSE)",
            ),
            BLOCKS,
            BLOCKS,
            PASSES,
            "1 combination of (code) occurs in more than one row among the rows its condition selects",
        ),
        Cell(
            "uniqueexpr",
            "expression `UniqueConstraint` restored over duplicates (MariaDB: Django does not create it)",
            item(
                "('code', models.CharField(max_length=10))",
                options="'constraints': [models.UniqueConstraint(Lower('code'), name='mx_uniqueexpr')]",
            ),
            "migrations.RemoveConstraint('item', 'mx_uniqueexpr')",
            ("DELETE FROM mx_uniqueexpr_item",),
            ("INSERT INTO mx_uniqueexpr_item (code) VALUES ('Ab'), ('cd')",),
            ("INSERT INTO mx_uniqueexpr_item (code) VALUES ('Ab'), ('aB'), ('x')",),
            BLOCKS,
            BLOCKS,
            PASSES,
            "1 combination of (its expressions) occurs in more than one row",
            preamble="from django.db.models.functions import Lower",
        ),
        Cell(
            "nullsdistinct",
            "`UniqueConstraint(nulls_distinct=False)` restored over NULLs (PostgreSQL 15+ only; Django 5.0+)",
            item(
                "('code', models.CharField(max_length=10, null=True))",
                options="'constraints': [models.UniqueConstraint(fields=['code'], nulls_distinct=False, "
                "name='mx_nullsdistinct')]",
            ),
            "migrations.RemoveConstraint('item', 'mx_nullsdistinct')",
            ("DELETE FROM mx_nullsdistinct_item",),
            ("INSERT INTO mx_nullsdistinct_item (code) VALUES ('a'), (NULL)",),
            ("INSERT INTO mx_nullsdistinct_item (code) VALUES (NULL), (NULL)",),
            PASSES,
            BLOCKS,
            PASSES,
            "1 combination of (code) occurs in more than one row",
            since_django=(5, 0),
        ),
        Cell(
            "fkfromint",
            "`ForeignKey` restored from an integer column over orphaned values",
            parent_child(f"('parent', {fk('mx_fkfromint')})"),
            "migrations.AlterField('child', 'parent', models.BigIntegerField(db_column='parent_id'))",
            tuple(sql.format("fkfromint") for sql in both),
            (
                "INSERT INTO mx_fkfromint_parent (id) VALUES (1)",
                "INSERT INTO mx_fkfromint_child (parent_id) VALUES (1)",
            ),
            (
                "INSERT INTO mx_fkfromint_parent (id) VALUES (1)",
                "INSERT INTO mx_fkfromint_child (parent_id) VALUES (1), (5), (6)",
            ),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "mx_fkfromint_child.parent_id -> mx_fkfromint_parent.id, but 2 rows",
        ),
        Cell(
            "fkconstraint",
            "`db_constraint` re-enabled over orphaned values",
            parent_child(f"('parent', {fk('mx_fkconstraint')})"),
            f"migrations.AlterField('child', 'parent', {fk('mx_fkconstraint', db_constraint=False)})",
            tuple(sql.format("fkconstraint") for sql in both),
            (
                "INSERT INTO mx_fkconstraint_parent (id) VALUES (1)",
                "INSERT INTO mx_fkconstraint_child (parent_id) VALUES (1)",
            ),
            ("INSERT INTO mx_fkconstraint_child (parent_id) VALUES (7)",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "mx_fkconstraint_child.parent_id -> mx_fkconstraint_parent.id, but 1 row",
        ),
        Cell(
            "intrange",
            "`IntegerField` restored from `BigIntegerField` over values out of its range",
            item("('n', models.IntegerField())"),
            "migrations.AlterField('item', 'n', models.BigIntegerField())",
            ("DELETE FROM mx_intrange_item",),
            ("INSERT INTO mx_intrange_item (n) VALUES (2147483647)",),
            ("INSERT INTO mx_intrange_item (n) VALUES (3000000000)",),
            PASSES,
            BLOCKS,
            BLOCKS,
            "mx_intrange_item.n back into IntegerField (-2147483648..2147483647), but the column holds 1 value",
        ),
        Cell(
            "positive",
            "`PositiveIntegerField` restored over negative values",
            item("('n', models.PositiveIntegerField())"),
            "migrations.AlterField('item', 'n', models.IntegerField())",
            ("DELETE FROM mx_positive_item",),
            ("INSERT INTO mx_positive_item (n) VALUES (0)",),
            ("INSERT INTO mx_positive_item (n) VALUES (-1)",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "mx_positive_item.n back into PositiveIntegerField (0..",
        ),
        Cell(
            "decimal",
            "fewer `DecimalField` digits restored over values that overflow after rounding",
            item("('price', models.DecimalField(max_digits=5, decimal_places=2))"),
            "migrations.AlterField('item', 'price', models.DecimalField(max_digits=10, decimal_places=4))",
            ("DELETE FROM mx_decimal_item",),
            ("INSERT INTO mx_decimal_item (price) VALUES (999.99), (1.2345)",),
            ("INSERT INTO mx_decimal_item (price) VALUES (12345.67), (999.999), (1.5)",),
            PASSES,
            BLOCKS,
            BLOCKS,
            "mx_decimal_item.price back into decimal(5, 2), but 2 values need more than 3 digits",
        ),
        Cell(
            "datetime",
            "`DateField` restored from `DateTimeField`",
            item("('at', models.DateField())"),
            "migrations.AlterField('item', 'at', models.DateTimeField())",
            ("DELETE FROM mx_datetime_item",),
            ("INSERT INTO mx_datetime_item (at) VALUES ('2024-01-01 00:00:00')",),
            ("INSERT INTO mx_datetime_item (at) VALUES ('2024-01-01 10:30:00'), ('2024-01-02 00:00:00')",),
            "passes; keeps the datetime text, which Django reads as None (data loss)",
            "passes; drops the time of day (data loss)",
            "passes; drops the time of day (data loss)",
            "of mx_datetime_item.at",
        ),
        Cell(
            "view",
            "a column dropped under a view (reverting `AddField`)",
            item("('note', models.CharField(max_length=10))"),
            "migrations.AddField('item', 'extra', models.CharField(max_length=10, null=True))",
            ("DROP VIEW IF EXISTS mx_view_v", "DELETE FROM mx_view_item"),
            (),
            ("CREATE VIEW mx_view_v AS SELECT id, extra FROM mx_view_item",),
            BLOCKS,
            BLOCKS_ON_DJANGO_6,
            "passes; the view is left failing (data loss)",
            "view mx_view_v",
        ),
        Cell(
            "readdint",
            "NOT NULL integer column re-added without a default over rows",
            item("('note', models.CharField(max_length=10))", "('qty', models.IntegerField())"),
            "migrations.RemoveField('item', 'qty')",
            ("DELETE FROM mx_readdint_item",),
            (),
            ("INSERT INTO mx_readdint_item (note) VALUES ('a')",),
            BLOCKS,
            BLOCKS,
            "passes (fills 0)",
            "mx_readdint_item.qty",
        ),
        Cell(
            "readdtext",
            "NOT NULL text column re-added without a default over rows",
            item("('note', models.CharField(max_length=10))", "('code', models.CharField(max_length=10))"),
            "migrations.RemoveField('item', 'code')",
            ("DELETE FROM mx_readdtext_item",),
            (),
            ("INSERT INTO mx_readdtext_item (note) VALUES ('a')",),
            BLOCKS,
            BLOCKS,
            "passes (fills '')",
            "mx_readdtext_item.code",
        ),
        Cell(
            "readddate",
            "NOT NULL date column re-added without a default over rows",
            item("('note', models.CharField(max_length=10))", "('day', models.DateField())"),
            "migrations.RemoveField('item', 'day')",
            ("DELETE FROM mx_readddate_item",),
            (),
            ("INSERT INTO mx_readddate_item (note) VALUES ('a')",),
            BLOCKS,
            BLOCKS,
            "passes (fills 0000-00-00; blocks under NO_ZERO_DATE)",
            "mx_readddate_item.day",
        ),
        Cell(
            "readdfk",
            "NOT NULL foreign key re-added without a default over rows",
            parent_child("('note', models.CharField(max_length=10))", f"('parent', {fk('mx_readdfk')})"),
            "migrations.RemoveField('child', 'parent')",
            tuple(sql.format("readdfk") for sql in both),
            (),
            ("INSERT INTO mx_readdfk_child (note) VALUES ('a')",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "mx_readdfk_child has 1 row to fill",
        ),
        Cell(
            "readdunique",
            "UNIQUE column re-added with a default over more than one row",
            item(
                "('note', models.CharField(max_length=10))",
                "('code', models.CharField(max_length=10, unique=True, default='x'))",
            ),
            "migrations.RemoveField('item', 'code')",
            ("DELETE FROM mx_readdunique_item",),
            ("INSERT INTO mx_readdunique_item (note) VALUES ('a')",),
            ("INSERT INTO mx_readdunique_item (note) VALUES ('a'), ('b')",),
            BLOCKS,
            BLOCKS,
            BLOCKS,
            "all 2 rows of mx_readdunique_item get the same value",
        ),
        # Last: on SQLite the view it leaves broken makes every later table rebuild fail.
        Cell(
            "viewtable",
            "a table dropped under a view (reverting `CreateModel`)",
            item("('note', models.CharField(max_length=10))"),
            model("Other", "('note', models.CharField(max_length=10, null=True))"),
            ("DROP VIEW IF EXISTS mx_viewtable_v", "DELETE FROM mx_viewtable_other"),
            (),
            ("CREATE VIEW mx_viewtable_v AS SELECT id, note FROM mx_viewtable_other",),
            "passes; the view is left failing (data loss)",
            "passes; drops the views (data loss)",
            "passes; the view is left failing (data loss)",
            "view mx_viewtable_v",
        ),
    )


CELLS = _cells()
BACKEND_COLUMNS = (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"), ("mysql", "MariaDB"))


def readme_table() -> str:
    """``CELLS`` as the README's table: the check, then what the revert does over the failing rows."""
    lines = [
        "| Restored by the revert | " + " | ".join(title for _, title in BACKEND_COLUMNS) + " |",
        "| --- |" + " --- |" * len(BACKEND_COLUMNS),
    ]
    lines += [f"| {cell.check} | " + " | ".join(getattr(cell, b) for b, _ in BACKEND_COLUMNS) + " |" for cell in CELLS]
    return "\n".join(lines)
