"""A relation-heavy project for the rollback fast path's oracles (issue 13).

Four apps whose migrations interleave through cross-app dependencies, with
every shape render-speed.md §4 names as a trap: foreign keys across apps,
``to_field`` (and ``AlterField`` on the referenced field), many-to-many with
an automatic and an explicit ``through``, one-to-one, multi-table
inheritance (also as a foreign-key target), proxy and unmanaged models,
renames of fields and of a model, a removed column that a rollback re-adds
(SQLite column order), ``SeparateDatabaseAndState``, ``RunPython`` with real
reverse code and with ``noop``, and (app ``hz``) a rename of a field another
model follows by ``to_field``, which sends the whole run down Django's path.

``cut(seed)`` picks a random release cut: per app, how many migrations stay.
"""

from __future__ import annotations

import random

from projects import migration

Apps = dict[str, dict[str, str]]

ID = 'models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")'
CASCADE = "on_delete=models.CASCADE"

RUN_PYTHON = """
def add_publisher(apps, schema_editor):
    apps.get_model("lib", "Publisher").objects.create(name="seed", city="here")


def remove_publisher(apps, schema_editor):
    Publisher = apps.get_model("lib", "Publisher")
    assert Publisher._meta.get_field("author").related_model._meta.model_name == "author"
    Publisher.objects.filter(name="seed").delete()


def touch(apps, schema_editor):
    pass
"""


def _model(name: str, fields: list[tuple[str, str]], options: str = "", bases: str = "") -> str:
    body = ", ".join(f'("{n}", {f})' for n, f in fields)
    extra = (f", options={options}" if options else "") + (f", bases={bases}" if bases else "")
    return f'migrations.CreateModel(name="{name}", fields=[{body}]{extra})'


def _chain(
    app: str, ops_per_migration: list[tuple[list[tuple[str, str]], list[str]]], preamble: dict[int, str]
) -> dict:
    """Migrations ``0001``.. of ``app``: each the previous one of the app plus ``extra`` deps."""
    out: dict[str, str] = {}
    previous: str | None = None
    for index, (extra, ops) in enumerate(ops_per_migration, start=1):
        name = name_of(index)
        deps = ([(app, previous)] if previous else []) + extra
        out[name] = migration(deps, ops, preamble=preamble.get(index, ""))
        previous = name
    return out


def name_of(index: int) -> str:
    return "0001_initial" if index == 1 else f"{index:04d}_step"


def relation_heavy() -> Apps:
    """The project's apps; names are ``0001_initial``, ``0002_step``, ..."""
    lib = _chain(
        "lib",
        [
            (
                [],
                [
                    _model(
                        "Author",
                        [
                            ("id", ID),
                            ("name", "models.CharField(max_length=100)"),
                            ("code", "models.CharField(max_length=10, unique=True)"),
                        ],
                    ),
                    _model("Tag", [("id", ID), ("label", "models.CharField(max_length=30)")]),
                ],
            ),
            (
                [],
                [
                    _model(
                        "Publisher",
                        [
                            ("id", ID),
                            ("name", "models.CharField(max_length=50)"),
                            ("city", "models.CharField(max_length=50, null=True)"),
                        ],
                    ),
                    'migrations.AddField("author", "publisher", models.ForeignKey("lib.Publisher", '
                    f"null=True, {CASCADE}))",
                    'migrations.AddField("publisher", "author", models.ForeignKey("lib.Author", '
                    f'null=True, related_name="+", {CASCADE}))',
                ],
            ),
            (
                [],
                [
                    _model("Person", [("id", ID), ("first", "models.CharField(max_length=20)")]),
                    _model(
                        "Employee",
                        [
                            (
                                "person_ptr",
                                "models.OneToOneField(auto_created=True, on_delete=models.CASCADE, parent_link=True, "
                                'primary_key=True, serialize=False, to="lib.person")',
                            ),
                            ("salary", "models.IntegerField(default=0)"),
                        ],
                        bases='("lib.person",)',
                    ),
                ],
            ),
            (
                [],
                [
                    _model("AuthorProxy", [], options='{"proxy": True}', bases='("lib.author",)'),
                    _model(
                        "Legacy",
                        [("id", ID), ("author", f"models.ForeignKey('lib.Author', {CASCADE})")],
                        options='{"managed": False, "db_table": "legacy_table"}',
                    ),
                ],
            ),
            (
                [("shop", "0001_initial")],
                ['migrations.AlterField("author", "code", models.CharField(max_length=20, unique=True))'],
            ),
            ([], ['migrations.RenameField("tag", "label", "name")']),
            (
                [],
                [
                    'migrations.AddIndex("author", models.Index(fields=["name"], name="lib_author_name_idx"))',
                    'migrations.AddConstraint("author", models.UniqueConstraint(fields=["name", "publisher"], '
                    'name="lib_author_name_pub_uniq"))',
                    'migrations.AlterUniqueTogether("publisher", {("name", "author")})',
                ],
            ),
            (
                [],
                [
                    "migrations.RunPython(add_publisher, remove_publisher)",
                    "migrations.RunPython(touch, migrations.RunPython.noop)",
                ],
            ),
            (
                [],
                [
                    'migrations.RemoveField("publisher", "city")',
                    'migrations.RemoveIndex("author", "lib_author_name_idx")',
                ],
            ),
            (
                [],
                [
                    "migrations.SeparateDatabaseAndState(state_operations=["
                    'migrations.AddField("tag", "weight", models.IntegerField(default=0))], database_operations=['
                    'migrations.AddField("tag", "weight", models.IntegerField(default=0))])',
                    'migrations.AlterField("employee", "salary", models.BigIntegerField(null=True))',
                ],
            ),
            ([("shop", "0003_step")], ['migrations.RenameModel("Tag", "Label")']),
        ],
        {8: RUN_PYTHON},
    )
    shop = _chain(
        "shop",
        [
            (
                [("lib", "0004_step")],
                [
                    _model(
                        "Book",
                        [
                            ("id", ID),
                            ("title", "models.CharField(max_length=100)"),
                            ("author", f'models.ForeignKey("lib.Author", to_field="code", {CASCADE})'),
                            ("publisher", f'models.ForeignKey("lib.Publisher", null=True, {CASCADE})'),
                        ],
                    ),
                    _model("Shelf", [("id", ID), ("books", 'models.ManyToManyField("shop.Book")')]),
                ],
            ),
            (
                [],
                [
                    _model(
                        "Membership",
                        [
                            ("id", ID),
                            ("shelf", f'models.ForeignKey("shop.Shelf", {CASCADE})'),
                            ("book", f'models.ForeignKey("shop.Book", {CASCADE})'),
                            ("position", "models.IntegerField(default=0)"),
                        ],
                    ),
                    'migrations.AddField("shelf", "featured", models.ManyToManyField("shop.Book", '
                    'through="shop.Membership", related_name="featured_on"))',
                ],
            ),
            (
                [],
                [
                    _model("Profile", [("id", ID), ("author", f'models.OneToOneField("lib.Author", {CASCADE})')]),
                    _model("Sticker", [("id", ID), ("book", f'models.ForeignKey("shop.Book", {CASCADE})')]),
                    'migrations.AddField("book", "tags", models.ManyToManyField("lib.Tag"))',
                ],
            ),
            (
                [],
                [
                    'migrations.AlterField("book", "title", models.CharField(max_length=200))',
                    'migrations.AddField("book", "isbn", models.CharField(max_length=13, null=True))',
                ],
            ),
            (
                [],
                [
                    'migrations.RenameField("book", "isbn", "ean")',
                    'migrations.AddIndex("book", models.Index(fields=["ean"], name="shop_book_ean_idx"))',
                ],
            ),
            (
                [],
                [
                    _model(
                        "Ebook",
                        [
                            (
                                "book_ptr",
                                "models.OneToOneField(auto_created=True, on_delete=models.CASCADE, parent_link=True, "
                                'primary_key=True, serialize=False, to="shop.book")',
                            ),
                            ("size", "models.IntegerField(default=0)"),
                        ],
                        bases='("shop.book",)',
                    )
                ],
            ),
            ([], ['migrations.RemoveField("book", "publisher")']),
            (
                [("lib", "0006_step")],
                [f'migrations.AlterField("profile", "author", models.ForeignKey("lib.Author", {CASCADE}))'],
            ),
            ([], ['migrations.DeleteModel("Sticker")']),
        ],
        {},
    )
    crm = _chain(
        "crm",
        [
            (
                [("shop", "0002_step"), ("lib", "0003_step")],
                [
                    _model(
                        "Customer",
                        [
                            ("id", ID),
                            ("email", "models.CharField(max_length=100, unique=True)"),
                            ("employee", f'models.ForeignKey("lib.Employee", null=True, {CASCADE})'),
                            ("favourite", f'models.ForeignKey("shop.Book", null=True, {CASCADE})'),
                        ],
                    )
                ],
            ),
            (
                [],
                [
                    _model(
                        "Order",
                        [
                            ("id", ID),
                            ("customer", f'models.ForeignKey("crm.Customer", to_field="email", {CASCADE})'),
                            ("items", 'models.ManyToManyField("shop.Book")'),
                        ],
                    )
                ],
            ),
            ([], ['migrations.AlterField("customer", "email", models.CharField(max_length=200, unique=True))']),
            ([], ['migrations.AddField("order", "note", models.TextField(default=""))']),
            ([("shop", "0006_step")], ['migrations.RemoveField("customer", "favourite")']),
            ([], ['migrations.AlterField("customer", "id", models.AutoField(primary_key=True, serialize=False))']),
            (
                [],
                [
                    "migrations.SeparateDatabaseAndState(state_operations=["
                    + _model("Note", [("id", ID), ("order", f'models.ForeignKey("crm.Order", {CASCADE})')])
                    + "], database_operations=["
                    + _model("Note", [("id", ID), ("order", f'models.ForeignKey("crm.Order", {CASCADE})')])
                    + "])"
                ],
            ),
        ],
        {},
    )
    hz = _chain(
        "hz",
        [
            (
                [],
                [
                    _model("Code", [("id", ID), ("code", "models.CharField(max_length=10, unique=True)")]),
                    _model("Ref", [("id", ID), ("code", f'models.ForeignKey("hz.Code", to_field="code", {CASCADE})')]),
                ],
            ),
            ([], ['migrations.AddField("ref", "note", models.IntegerField(null=True))']),
            ([], ['migrations.RenameField("code", "code", "key")']),
        ],
        {},
    )
    return {"lib": lib, "shop": shop, "crm": crm, "hz": hz}


def cut(apps: Apps, seed: int) -> dict[str, int]:
    """A random release cut: how many of each app's migrations stay applied (0 = none)."""
    rng = random.Random(seed)
    return {label: rng.randint(0, len(migrations) - 1) for label, migrations in apps.items()}
