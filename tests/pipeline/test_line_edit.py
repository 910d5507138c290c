"""The `ast` fast path of the wiring edits gives what the libcst edit gives, or steps aside."""

import ast

import pytest

from agent.pipeline import cst_edit, persistence
from agent.pipeline.line_edit import Insertion, insert_statements
from agent.pipeline.wiring import wire_router
from agent.prompt_files import skeleton_files

SKELETON = skeleton_files()

MAINS = {
    "skeleton": SKELETON["src/main.py"],
    "wired once": wire_router(SKELETON["src/main.py"], "smoke_test"),
    "no prefix, comments above app": (
        "from fastapi import FastAPI\n\n# the app\n# (two lines)\napp = FastAPI()\n\n"
        "@app.get('/')\ndef root() -> dict[str, str]:\n    return {}\n"
    ),
    "no imports, docstring": '"""Doc."""\n\napp = make()\n',
    "no imports, no docstring": "app = make()\nx = 1\n",
    "header comment": "# header\n# more\n\nfrom fastapi import FastAPI\napp = FastAPI()\n",
    "multi-line app and include": (
        "from fastapi import FastAPI\nfrom src.features.a import a_router\n"
        'API_V1_PREFIX = "/api/v1"\napp = FastAPI(\n    title="x",\n)\n'
        "app.include_router(\n    a_router.router,\n    prefix=API_V1_PREFIX,\n)\n# trailing\n"
    ),
    "no final newline": 'from fastapi import FastAPI\nAPI_V1_PREFIX = "/api/v1"\napp = FastAPI()',
    "crlf": "from fastapi import FastAPI\r\n\r\napp = FastAPI()\r\n",
    "annotated app, decorated function first": (
        "import fastapi\n\n\n@decorator\ndef f() -> None:\n    pass\n\n\n"
        "app: fastapi.FastAPI = fastapi.FastAPI()\n"
    ),
    "backslash continuation": "from fastapi import \\\n    FastAPI\napp = \\\n    FastAPI()\n",
    "string holding a line separator": 'import x\nS = "a\u2028b"\napp = x.App()\n',
}


@pytest.mark.parametrize("name", sorted(MAINS))
def test_wiring_gives_what_libcst_gives(name: str) -> None:
    source = MAINS[name]
    fast = wire_router(source, "pets")
    assert fast == cst_edit.add_router(source, "pets")
    assert wire_router(fast, "pets") == fast


@pytest.mark.parametrize(
    "source",
    [
        "from fastapi import FastAPI; app = FastAPI()\n",
        'import a\nAPI_V1_PREFIX = "/api/v1"; app = a.App()\n',
        "import a\rapp = a.App()\r",
    ],
)
def test_what_it_cannot_place_for_certain_goes_to_libcst(source: str) -> None:
    tree = ast.parse(source)
    lines = [Insertion(len(tree.body) - 1, "x = 1", hug_next=True)]
    assert insert_statements(source, tree, lines) is None
    wired = wire_router(source, "pets")
    assert wired == cst_edit.add_router(source, "pets")
    compile(wired, "main.py", "exec")


def test_a_result_that_does_not_parse_as_expected_is_refused() -> None:
    source = "x = (1,\n     2)\ny = 3\n"
    tree = ast.parse(source)
    # A "statement" that is not one: the check parses the result and steps aside.
    assert insert_statements(source, tree, [Insertion(1, "if True:")]) is None
    assert insert_statements(source, tree, [Insertion(1, "z = 0")]) == (
        "x = (1,\n     2)\nz = 0\ny = 3\n"
    )


@pytest.mark.parametrize(
    "tables",
    [
        SKELETON["src/tables.py"],
        persistence.register_table(SKELETON["src/tables.py"], "pets"),
        "",
        "# only a comment\n",
        "import a  # noqa: F401\nimport b; import c\n",
    ],
)
def test_registering_a_table_gives_what_libcst_gives(tables: str) -> None:
    registered = persistence.register_table(tables, "vet_visit")
    line = "import src.features.vet_visit.vet_visit_table  # noqa: F401\n"
    assert registered == cst_edit.add_import_line(tables, line)
    assert persistence.register_table(registered, "vet_visit") == registered
