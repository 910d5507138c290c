"""Python source parsed into an AST, one parse at a time across the builder's threads.

CPython 3.11's AST constructor keeps its recursion depth in per-interpreter state: two threads
building trees at once (a service's concurrent builds) can interleave there and one of them gets
`SystemError: AST constructor recursion depth mismatch` (python/cpython#106905). Every parse of
the builder goes through here, under one lock; a parse takes microseconds to milliseconds.
"""

from __future__ import annotations

import ast
import threading
from typing import Literal, overload

_LOCK = threading.Lock()


@overload
def parse(source: str, filename: str = ..., mode: Literal["exec"] = ...) -> ast.Module: ...


@overload
def parse(source: str, filename: str = ..., *, mode: Literal["eval"]) -> ast.Expression: ...


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """`ast.parse(source, filename, mode)`, serialised."""
    with _LOCK:
        return ast.parse(source, filename=filename, mode=mode)
