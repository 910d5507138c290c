"""Text built of constants alone is folded before the scans look (agent.pipeline.built_text)."""

from __future__ import annotations

import ast

import pytest

from agent.pipeline.built_text import built_text


def expression(source: str) -> ast.expr:
    statement = ast.parse(source).body[0]
    assert isinstance(statement, ast.Expr)
    return statement.value


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("'petsage_report'", "petsage_report"),
        ("'petsage_' + 'report'", "petsage_report"),
        ("f\"petsage_{'report'}\"", "petsage_report"),
        ("f\"{'petsage'}_{f'{chr(0)!s}'[:0] or 'x'}\"", None),
        ("'petsage_%s' % 'gate'", "petsage_gate"),
        ("'%s_%s' % ('petsage', 'gate')", "petsage_gate"),
        ("'petsage_{}'.format('probe')", "petsage_probe"),
        ("'_'.join(['petsage', 'probe'])", "petsage_probe"),
        ("'_'.join(('a', 'b' + 'c'))", "a_bc"),
        ("'a' + name", None),
        ("f'{name}'", None),
        ("'%d' % 'x'", None),
        ("'{0}{1}'.format('only one')", None),
        ("'x'.upper()", None),
        ("1 + 2", None),
        ("'ab' * 3", None),
    ],
)
def test_what_is_folded(source: str, text: str | None) -> None:
    assert built_text(expression(source)) == text


def test_a_huge_fold_is_not_taken() -> None:
    assert built_text(expression("'{}'.format('" + "y" * 20_000 + "')")) is None
