"""Pure tests of schema fingerprint comparison (``migtool.core.schema``): each kind of
difference is found, and worded as ``verify`` reports it."""

from __future__ import annotations

from migtool.core.schema import Column, Constraint, SchemaFingerprint, schema_differences

PRICE = Column("shop_item", "price", "numeric(12,2)", False)
NAME = Column("shop_item", "name", "varchar(10)", False)
PK = Constraint("shop_item", "shop_item_pkey", "primary key", ("id",))
FK = Constraint("shop_note", None, "foreign key", ("item_id",), references="shop_item.id")
NOTE = Column("shop_note", "item_id", "bigint", False)


def fingerprint(*parts: Column | Constraint) -> SchemaFingerprint:
    return SchemaFingerprint(
        frozenset(p for p in parts if isinstance(p, Column)),
        frozenset(p for p in parts if isinstance(p, Constraint)),
    )


def differences(expected: SchemaFingerprint, actual: SchemaFingerprint) -> list[str]:
    return schema_differences(expected, actual, missing="does not restore")


def test_equal_fingerprints_have_no_differences():
    same = fingerprint(PRICE, NAME, PK, NOTE, FK)
    assert differences(same, fingerprint(PRICE, NAME, PK, NOTE, FK)) == []


def test_column_type_nullability_and_default_changes():
    narrow = Column("shop_item", "price", "numeric(10,2)", True, "0")
    assert differences(fingerprint(PRICE), fingerprint(narrow)) == [
        "column shop_item.price is numeric(10,2), was numeric(12,2)",
        "column shop_item.price is NULL, was NOT NULL",
        "column shop_item.price has default 0, was none",
    ]


def test_extra_and_missing_columns_and_tables():
    assert differences(fingerprint(PRICE), fingerprint(PRICE, NAME)) == ["leaves column shop_item.name"]
    assert differences(fingerprint(PRICE, NAME), fingerprint(PRICE)) == ["does not restore column shop_item.name"]
    # A whole table is named once, not column by column, nor its constraints.
    assert differences(fingerprint(PRICE), fingerprint(PRICE, NOTE, FK)) == ["leaves table shop_note"]
    assert differences(fingerprint(PRICE, NOTE, FK), fingerprint(PRICE)) == ["does not restore table shop_note"]


def test_indexes_by_name_and_unnamed_constraints_by_content():
    index = Constraint("shop_item", "shop_order_created_idx", "index", ("created",), detail="idx")
    assert differences(fingerprint(PRICE), fingerprint(PRICE, index)) == ["leaves index shop_order_created_idx"]
    assert differences(fingerprint(PRICE, NOTE, FK), fingerprint(PRICE, NOTE)) == [
        "does not restore foreign key on shop_note(item_id) -> shop_item.id"
    ]


def test_a_named_constraint_that_changed_is_one_difference():
    before = Constraint("shop_item", "shop_item_name_idx", "index", ("name",), detail="idx")
    after = Constraint("shop_item", "shop_item_name_idx", "unique index", ("name", "price"), detail="idx")
    assert differences(fingerprint(PRICE, before), fingerprint(PRICE, after)) == [
        "unique index shop_item_name_idx is unique index on shop_item(name, price) [idx], "
        "was index on shop_item(name) [idx]"
    ]
