import pytest
from pydantic import ValidationError

from agent.fields import FieldSpec, ResourceSpec
from agent.fields.words import looks_like_field_lines, parse_field_lines


def test_every_type_and_rule_of_the_text_form() -> None:
    spec = parse_field_lines(
        "- name: str len>=1 len<=40\n"
        "age: int >=0 <=40\n"
        "weight: float? >=0.5 <=90.5\n"
        "species: dog|cat|bird\n"
        "vaccinated: bool\n"
        "born: date optional\n"
        "seen_at: datetime?\n"
        "operations: create list, delete"
    )
    by_name = {f.name: f for f in spec.fields}
    assert by_name["name"].min_length == 1 and by_name["name"].max_length == 40
    assert by_name["age"].ge == 0 and by_name["age"].le == 40
    assert by_name["weight"].ge == 0.5 and by_name["weight"].le == 90.5
    assert not by_name["weight"].required
    assert by_name["species"].type == "enum" and by_name["species"].choices == (
        "dog",
        "cat",
        "bird",
    )
    assert by_name["vaccinated"].type == "bool" and by_name["vaccinated"].required
    assert not by_name["born"].required and by_name["born"].type == "date"
    assert by_name["seen_at"].type == "datetime"
    assert spec.operations == ("create", "list", "delete")


def test_to_lines_reads_back() -> None:
    spec = parse_field_lines("a: int >=1 <=3\nb: str? len>=2 len<=5\nc: x|y\noperations: get")
    assert parse_field_lines(spec.to_lines()) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("age: integr >= 0", "line 1 .*cannot read 'integr'"),
        ("age: int whatever", "cannot read 'whatever'"),
        ("age: int >=x", "cannot read '>= x'"),
        ("age: int\noperations: fly", "unknown operation 'fly'"),
        ("age: int\nage: str", "declared twice"),
        ("name: str >=1", "ge/le apply only to int or float"),
        ("age: int len<=3", "min_length/max_length apply only to str"),
        ("age: int >=0.5", "whole-number bounds"),
        ("age: int >=5 <=1", "greater than le"),
        ("name: str len>=5 len<=1", "min_length is greater than max_length"),
        ("json: str", "reserved"),
        ("class: str", "Python keyword"),
    ],
)
def test_bad_field_lines_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_field_lines(text)


def test_looks_like_field_lines_tells_rules_from_prose() -> None:
    assert looks_like_field_lines("age: int\nspecies: dog|cat")
    assert looks_like_field_lines("- age: integer >= 0")
    assert looks_like_field_lines("age: integr >= 0"), "an operator makes it a field line"
    assert looks_like_field_lines("Endpoint: returns the status") is False
    assert looks_like_field_lines("Note: keep it fast") is False
    assert looks_like_field_lines("") is False


def test_enum_needs_choices_and_choices_need_enum() -> None:
    with pytest.raises(ValidationError, match="needs `choices`"):
        FieldSpec(name="kind", type="enum")
    with pytest.raises(ValidationError, match="apply only to enum"):
        FieldSpec(name="kind", type="str", choices=("a",))
    with pytest.raises(ValidationError, match="unique"):
        FieldSpec(name="kind", type="enum", choices=("a", "a"))


def test_resource_needs_fields_and_operations() -> None:
    with pytest.raises(ValidationError, match="1 to 40 fields"):
        ResourceSpec(fields=())
    with pytest.raises(ValidationError, match="at least one operation"):
        ResourceSpec(fields=(FieldSpec(name="a", type="int"),), operations=())
