from agent.fields import FieldSpec
from agent.models.samples import bad_values, edge_values, py_literal, valid_value


def test_valid_values_follow_every_rule() -> None:
    specs = [
        FieldSpec(name="a", type="int", ge=5, le=5),
        FieldSpec(name="b", type="int", le=-3),
        FieldSpec(name="c", type="float", ge=10.5),
        FieldSpec(name="d", type="str", min_length=7, max_length=9),
        FieldSpec(name="e", type="str", max_length=0),
        FieldSpec(name="f", type="enum", choices=("only",)),
    ]
    for spec in specs:
        for variant in (0, 1):
            value = valid_value(spec, variant)
            if spec.ge is not None:
                assert value >= spec.ge
            if spec.le is not None:
                assert value <= spec.le
            if spec.min_length is not None:
                assert len(value) >= spec.min_length
            if spec.max_length is not None:
                assert len(value) <= spec.max_length


def test_variants_differ_where_the_rules_allow() -> None:
    spec = FieldSpec(name="a", type="int", ge=0, le=40)
    assert valid_value(spec, 0) != valid_value(spec, 1)
    pinned = FieldSpec(name="a", type="int", ge=5, le=5)
    assert valid_value(pinned, 0) == valid_value(pinned, 1) == 5


def test_bad_values_break_exactly_one_rule_each() -> None:
    spec = FieldSpec(name="age", type="int", ge=0, le=40)
    assert bad_values(spec) == [
        ("age", "not-a-number", "type int"),
        ("age", -1, ">= 0"),
        ("age", 41, "<= 40"),
    ]
    text = FieldSpec(name="nick", type="str", min_length=2, max_length=3)
    assert [value for _, value, _ in bad_values(text)] == [12345, "x", "xxxx"]
    choice = FieldSpec(name="kind", type="enum", choices=("not-a-choice",))
    assert bad_values(choice)[0][1] == "not-a-choice-really"


def test_edge_values_sit_on_each_bound() -> None:
    assert edge_values(FieldSpec(name="w", type="float", ge=0.5, le=2)) == [("w", 0.5), ("w", 2.0)]
    assert edge_values(FieldSpec(name="k", type="enum", choices=("a", "b"))) == [
        ("k", "a"),
        ("k", "b"),
    ]


def test_py_literal_is_valid_python_in_house_format() -> None:
    value = {"a": 'x"y', "b": [1, 2.5, None, True], "c": ("p",)}
    text = py_literal(value)
    assert text.startswith('{\n    "a": ')
    assert eval(text) == value
