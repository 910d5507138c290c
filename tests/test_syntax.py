"""One parse at a time: the same trees as `ast.parse`, from any number of threads."""

import ast
from concurrent.futures import ThreadPoolExecutor

from agent.bundle import parse_reply
from agent.pipeline.checks import check_bundle
from agent.syntax import parse
from tests.conftest import SEED_TEXT

SOURCE = "def f(x: int) -> int:\n    return [y for y in range(x) if y % 2][0]\n"


def test_the_same_tree_as_ast_parse() -> None:
    assert ast.dump(parse(SOURCE)) == ast.dump(ast.parse(SOURCE))
    assert ast.dump(parse("a + 1", mode="eval")) == ast.dump(ast.parse("a + 1", mode="eval"))


def test_concurrent_builds_check_their_bundles_at_once() -> None:
    """What a service does with several builds: every check parses every file, in threads."""
    seed = parse_reply(SEED_TEXT, "smoke_test")
    with ThreadPoolExecutor(max_workers=8) as pool:
        checked = list(pool.map(lambda _: check_bundle(seed, "smoke_test"), range(200)))
    assert all(len(bundle.files) == len(checked[0].files) for bundle in checked)
