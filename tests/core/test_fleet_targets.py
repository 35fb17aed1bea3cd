"""Fleet values: target labels, fleet files and definitions, outcome counts."""

import pytest

from migtool.errors import InputError
from migtool.fleet.outcomes import FAILED, NOT_STARTED, SUCCEEDED, TargetOutcome, counts, summary_line
from migtool.fleet.targets import Target, fleet_from_value, read_fleet_file, unique


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


def test_a_fleet_definition_is_a_list_of_labels_or_a_table_of_them():
    assert fleet_from_value(["a", "b:s", "a"], "x") == [Target("a"), Target("b", "s")]
    assert fleet_from_value({"targets": ["b"]}, "x") == [Target("b")]


@pytest.mark.parametrize("value", [None, [], "default", {"targets": 3}, ["a", 1], {"aliases": ["a"]}])
def test_a_fleet_definition_without_labels_is_an_input_error(value):
    with pytest.raises(InputError, match="names no targets"):
        fleet_from_value(value, "settings.MIGTOOL_FLEET")


def test_fleet_files_are_toml_and_their_errors_name_the_file(tmp_path):
    good = tmp_path / "fleet.toml"
    good.write_text('targets = ["eu", "eu:tenant_7"]\n')
    assert read_fleet_file(str(good)) == [Target("eu"), Target("eu", "tenant_7")]
    broken = tmp_path / "broken.toml"
    broken.write_text("targets = [\n")
    with pytest.raises(InputError, match="is not valid TOML"):
        read_fleet_file(str(broken))
    with pytest.raises(InputError, match="Cannot read the fleet file"):
        read_fleet_file(str(tmp_path / "missing.toml"))


def test_counts_follow_the_fixed_order_of_statuses_and_the_final_line_says_them():
    outcomes = [
        TargetOutcome(Target("c"), NOT_STARTED),
        TargetOutcome(Target("a"), FAILED, error="boom"),
        TargetOutcome(Target("b"), SUCCEEDED, applied=2),
        TargetOutcome(Target("d"), SUCCEEDED, applied=1),
    ]
    assert list(counts(outcomes).items()) == [(SUCCEEDED, 2), (FAILED, 1), (NOT_STARTED, 1)]
    assert summary_line("r1", outcomes) == "fleet run r1: 4 target(s): 2 succeeded, 1 failed, 1 not started."
    assert [o.broken for o in outcomes] == [False, True, False, False]
    assert outcomes[1].to_dict()["target"] == "a" and outcomes[1].to_dict()["error"] == "boom"
