import ast

import pytest

from agent.bundle import parse_reply
from agent.errors import ModelError, ModelRefused
from agent.models import Feedback, GenerationTask, create_model
from agent.models.offline import OfflineModel, render_bundle
from agent.pipeline.checks import check_bundle
from agent.request import decode_request
from tests.conftest import SEED_TEXT

PETS = decode_request(
    {
        "feature": "pet_profile",
        "description": "Pets",
        "requirements": [
            "name: str len>=1 len<=40",
            "age: int >=0 <=40",
            "weight: float? >=0.5 <=90",
            "species: dog|cat|bird",
            "vaccinated: bool",
            "born: date?",
            "seen_at: datetime?",
        ],
    }
)


def test_smoke_test_is_exactly_the_seed() -> None:
    bundle = render_bundle(decode_request(SEED_TEXT))
    seed = parse_reply(SEED_TEXT, "smoke_test")
    assert [(f.path, f.content) for f in bundle.files] == [(f.path, f.content) for f in seed.files]


def test_other_status_features_follow_the_same_template() -> None:
    bundle = check_bundle(
        render_bundle(decode_request({"feature": "ping", "description": "Liveness"})), "ping"
    )
    router = bundle.get("src/features/ping/ping_router.py")
    assert router is not None and 'prefix="/ping"' in router.content
    assert "PingResponse" in router.content


def test_a_resource_bundle_passes_the_checks_and_covers_each_endpoint() -> None:
    bundle = check_bundle(render_bundle(PETS), "pet_profile")
    tests = bundle.get("tests/features/pet_profile/test_pet_profile.py")
    assert tests is not None
    names = {
        node.name
        for node in ast.walk(ast.parse(tests.content))
        if isinstance(node, ast.FunctionDef)
    }
    for expected in (
        "test_create_answers_201_with_the_stored_item",
        "test_create_with_a_value_that_breaks_a_rule_is_422",
        "test_create_without_a_required_field_is_422",
        "test_list_pages_with_limit_and_offset",
        "test_get_a_missing_item_is_404",
        "test_update_with_a_value_that_breaks_a_rule_is_422",
        "test_update_a_missing_item_is_404",
        "test_delete_answers_204_and_removes_the_item",
        "test_delete_a_missing_item_is_404",
    ):
        assert expected in names
    for rule in (
        "'>= 0'",
        "'<= 40'",
        "'length >= 1'",
        "'length <= 40'",
        "'one of dog, cat, bird'",
        "'type date'",
    ):
        assert rule.replace("'", '"') in tests.content


def test_operations_left_out_are_tested_as_absent() -> None:
    request = decode_request(
        {
            "feature": "notes",
            "description": "Notes",
            "requirements": "text: str\noperations: list, get",
        }
    )
    bundle = check_bundle(render_bundle(request), "notes")
    router = bundle.get("src/features/notes/notes_router.py")
    tests = bundle.get("tests/features/notes/test_notes.py")
    assert router is not None and tests is not None
    assert "@router.post" not in router.content and "@router.delete" not in router.content
    assert "test_operations_left_out_are_not_served" in tests.content
    assert '("POST", "")' in tests.content and '("DELETE", "/{id}")' in tests.content


def test_free_text_is_refused_before_any_work() -> None:
    request = decode_request(
        {"feature": "vet_visits", "description": "d", "requirements": "Track vet visits nicely"}
    )
    with pytest.raises(ModelRefused, match="need a configured model"):
        OfflineModel().check(request)


def test_the_offline_generator_cannot_repair_and_says_so() -> None:
    task = GenerationTask(
        request=PETS, round=2, max_rounds=3, feedback=Feedback("tests", ("x failed",))
    )
    with pytest.raises(ModelError, match="cannot repair"):
        OfflineModel().generate(task)


def test_factory_lists_valid_names() -> None:
    assert create_model("offline").name == "offline"
    with pytest.raises(Exception, match="Valid: offline"):
        create_model("gpt-magic")


def _empty_parameter_sets(source: str) -> list[str]:
    """The test functions of `source` whose `parametrize` list is empty: pytest skips them."""
    tree = ast.parse(source)
    lists = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    empty = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if not (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "parametrize"
            ):
                continue
            values = decorator.args[1]
            if isinstance(values, ast.Name):
                values = lists[values.id]
            if isinstance(values, ast.List | ast.Tuple) and not values.elts:
                empty.append(node.name)
    return empty


@pytest.mark.parametrize(
    "requirements",
    [
        ["kcal: int"],
        ["name: str", "notes: str?"],
        ["weight: float?", "seen: date?"],
        ["done: bool"],
        ["species: dog|cat"],
        ["age: int >=0"],
    ],
)
def test_no_resource_test_is_parametrised_over_nothing(requirements: list[str]) -> None:
    """A field with no rule has no edge values: the generator must leave that test out, not emit
    an empty parameter set that pytest skips (and a skipped feature test fails the build)."""
    request = decode_request(
        {"feature": "diet_plan", "description": "Diets", "requirements": requirements}
    )
    bundle = check_bundle(render_bundle(request), "diet_plan")
    tests = bundle.get("tests/features/diet_plan/test_diet_plan.py")
    assert tests is not None
    assert _empty_parameter_sets(tests.content) == []
