"""The reach scan: code written to slip past the plain scan (built names, module walks,
dunder reach, app changes outside the router, tests that read the source they test)."""

import ast

import pytest

from agent.pipeline.reach_scan import find_reaching_code

ROUTER = "src/features/f/f_router.py"
TESTS = "tests/features/f/test_f.py"


def reasons(source: str, path: str = ROUTER) -> list[str]:
    return [reason for _, reason in find_reaching_code(path, ast.parse(source))]


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("import os\ngetattr(os, '_ex' + 'it')(0)", "built at run time"),
        ("import os\nname = 'fork'\nsetattr(os, name, None)", "built at run time"),
        ("import os\nfor n in ['fork']:\n    setattr(os, n, None)", "built at run time"),
        ("x = getattr\nx(object, 'a')", "passes `getattr` around"),
        ("import sys\n", "imports `sys`"),
        ("from importlib import import_module\n", "imports from `importlib`"),
        ("import atexit\n", "imports `atexit`"),
        ("import typing\ntyping.sys.modules", "uses `sys`"),
        ("import pathlib\npathlib.os.write(1, b'')", "uses `os`"),
        ("def f():\n    return f.__globals__", "uses `__globals__`"),
        ("(1).__class__.__subclasses__()", "uses `__subclasses__`"),
        ("vars(object)", "uses `vars`"),
        ("from typing import sys as s", "uses `sys`"),
        ("router.routes.append(None)", "uses `routes`"),
        ("router.add_api_route('/x', f)", "uses `add_api_route`"),
        ("app.add_middleware(M)", "uses `add_middleware`"),
        ("app.dependency_overrides[a] = b", "uses `dependency_overrides`"),
        ("getattr(router, 'rou' 'tes')", "uses `routes`"),
        ("from unittest import mock\nmock.patch('petsage_' + 'report.send')", "built at run"),
        ("from unittest.mock import patch as p\np(t)", "built at run time"),
        ("def t(monkeypatch):\n    monkeypatch.setattr('o' + 's._exit', f)", "built at run"),
        ("def t(monkeypatch):\n    monkeypatch.setattr('sys.exit', f)", "reaches `sys.exit`"),
        ("def t(monkeypatch, o):\n    monkeypatch.setattr(o, 'se' + 'nd', f)", "built at run"),
        # A helper that takes the name as a parameter (the third review's way in).
        ("def _pick(o, n):\n    return getattr(o, n)\n_pick(x, 'sy' + 's')", "built at run"),
        ("def read(row, fields):\n    return {f: getattr(row, f) for f in fields}", "built at"),
        (
            "for k, v in d.items():\n    setattr(FastAPI, k, v)\nfrom fastapi import FastAPI",
            "built at",
        ),
        ("from fastapi import FastAPI\nFastAPI.__call__ = f", "assigns `__call__`"),
        ("from fastapi import FastAPI\nFastAPI.openapi = f", "assigns `FastAPI.openapi`"),
        ("x = {'__call__': f}", "names `__call__`"),
        ("import dis\n", "imports `dis`"),
        ("import pydoc\npydoc.locate('os')", "imports `pydoc`"),
        ("import weakref\n", "imports `weakref`"),
        ("import asyncio\nasyncio.create_subprocess_exec('x')", "create_subprocess_exec"),
        ("def f(x: \"__import__('os').getcwd()\"): ...", "string annotation that calls"),
        ("import typing\ntyping.get_type_hints(f)", "get_type_hints"),
        ("import os\nos.environ.get('PYTHONHASHSEED')", "uses `environ`"),
        ("import os\nos.getuid()", "uses `getuid`"),
        ("def test_x(pytestconfig):\n    pytestconfig.getoption('maxfail')", "how it is run"),
        ("def test_x(request):\n    request.config.rootpath.name", "how it is run"),
    ],
)
def test_each_reaching_shape_is_found(source: str, needle: str) -> None:
    found = reasons(source, TESTS if "def t" in source else ROUTER)
    assert any(needle in reason for reason in found), found


@pytest.mark.parametrize(
    "source",
    [
        "def test_x():\n    text = (here / 'src/f.py').read_text()",
        "def test_x():\n    with open('src/features/f/f_router.py') as f:\n        f.read()",
        "def test_x():\n    print(__file__)",
    ],
)
def test_a_test_that_reads_files_is_found(source: str) -> None:
    assert reasons(source, TESTS)
    # The same reads in a feature module are the plain scan's business (mode checks), not this.
    assert not [r for r in reasons(source, ROUTER) if "reads a file" in r]


@pytest.mark.parametrize(
    "source",
    [
        # The update idiom models write (and the eval suite's references do).
        "def update(row, changes):\n"
        "    for name, value in changes.model_dump().items():\n"
        "        setattr(row, name, value)\n",
        "x = getattr(obj, 'name', None)\nhasattr(obj, 'id')\n",
        "class Row:\n    __tablename__ = 'x'\n",
        "print(Row.__name__, Row.__table__)\n",
        "def test_p(client):\n    client.patch(f'{URL}/1', json={})\n",
        "def test_m(monkeypatch):\n    monkeypatch.setattr(clock, 'now', lambda: 1)\n",
        "def test_o(app):\n    app.dependency_overrides[get_session] = lambda: None\n",
        "from unittest import mock\nmock.patch('src.features.f.f_router.now')\n",
        "for key, value in data.items():\n    if key in ('a', 'b'):\n        print(key, value)\n",
        "if __name__ == '__main__':\n    pass\n",
        "def f(x: 'Pet | None', y: 'list[int]') -> 'Pet':\n    return x\n",
    ],
)
def test_plain_feature_code_passes(source: str) -> None:
    path = TESTS if "def test_" in source else ROUTER
    assert reasons(source, path) == []
