import ast

import pytest

from agent.safety import find_dangerous_code


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
