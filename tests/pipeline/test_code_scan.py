import ast

import pytest

from agent.pipeline.code_scan import count_tests, find_dangerous_code


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import subprocess", "`subprocess`"),
        ("import socket as s", "`socket`"),
        ("from ctypes import CDLL", "`ctypes`"),
        ("import multiprocessing.pool", "`multiprocessing.pool`"),
        ("from shutil import rmtree", "`shutil`"),
        ("import os\nos.system('x')", "os.system"),
        ("import os\nos.popen('x')", "os.popen"),
        ("import os\nos.execv('x', [])", "os.execv"),
        ("import os\nos.remove('x')", "os.remove"),
        ("import os as o\no.unlink('x')", "os.unlink"),
        ("from os import system", "os.system"),
        ("eval('1')", "`eval`"),
        ("exec('1')", "`exec`"),
        ("compile('1', 'f', 'exec')", "`compile`"),
        ("__import__('os')", "`__import__`"),
        ("f = eval", "`eval`"),
        ("open('x', 'w')", "for writing"),
        ("open('x', mode='a')", "for writing"),
        ("open('x', 'r+')", "for writing"),
        ("open('x', m)", "not a string literal"),
        ("import gc", "`gc`"),
        ("from inspect import currentframe", "`inspect`"),
        ("import _pytest.runner", "`_pytest.runner`"),
        ("def test_x(request):\n    request.config.pluginmanager.register(1)", "`.pluginmanager`"),
        ("import sys\nsys._getframe(1)", "`._getframe`"),
        ("def f(): ...\nf.__globals__", "`.__globals__`"),
        ("import sys\nsys.modules['petsage_report']", "`petsage_report`"),
        ("x = '/proc/self/fd/' + '3'", "`/proc/self/fd`"),
        ("from pathlib import Path\nPath('x').write_text('y')", "write_text"),
        ("from pathlib import Path\nPath('x').open('wb')", "for writing"),
        ("import builtins\nbuiltins.exec('1')", "builtins.exec"),
    ],
)
def test_each_dangerous_construct_is_found_with_its_line(source: str, reason: str) -> None:
    found = find_dangerous_code(ast.parse(source))
    assert found, source
    line, message = found[-1]
    assert reason in message
    assert line == len(source.splitlines())


@pytest.mark.parametrize(
    "source",
    [
        "import os\nvalue = os.environ.get('X')",
        "open('x')",
        "open('x', 'rb')",
        "from pydantic import BaseModel\nclass A(BaseModel):\n    compiled: int = 1",
        "import threading\nlock = threading.Lock()",
        "re_compile = 1",
    ],
)
def test_harmless_code_passes(source: str) -> None:
    assert find_dangerous_code(ast.parse(source)) == []


@pytest.mark.parametrize(
    ("source", "count"),
    [
        ("def test_a(): ...\ndef test_b(): ...\ndef helper(): ...\n", 2),
        ("def test_a(): ...\ndef test_a(): ...\n", 1),
        ("class TestX:\n    def test_a(self): ...\n    def test_b(self): ...\n", 2),
        ("class TestX:\n    def __init__(self): ...\n    def test_a(self): ...\n", 0),
        ("class TestX:\n    __test__ = False\n    def test_a(self): ...\n", 0),
        ("def test_a(): ...\ntest_a = None\n", 0),
        ("async def test_a(): ...\nclass Helper:\n    def test_b(self): ...\n", 1),
    ],
)
def test_tests_are_counted_from_the_ast(source: str, count: int) -> None:
    assert count_tests(ast.parse(source)) == count
