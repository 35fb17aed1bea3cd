"""The fleet target value: labels round-trip, bad labels are input errors."""

import pytest

from migtool.errors import InputError
from migtool.fleet.targets import Target, unique


def test_label_names_alias_and_schema():
    assert Target("default").label == "default"
    assert Target("default", "tenant_7").label == "default:tenant_7"
    assert str(Target("eu", "public")) == "eu:public"


@pytest.mark.parametrize("label", ["default", "default:tenant_7", "shard-2:public"])
def test_parse_reads_what_label_writes(label):
    assert Target.parse(label).label == label


@pytest.mark.parametrize("label", ["", "a:b:c", "two words", ":schema"])
def test_parse_refuses_what_is_not_a_target(label):
    with pytest.raises(InputError):
        Target.parse(label)


def test_unique_keeps_the_first_occurrence_in_order():
    a, b = Target("a"), Target("b", "s")
    assert unique([b, a, b, a]) == [b, a]
