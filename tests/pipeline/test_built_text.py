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
        ("'PETSAGE_REPORT'.lower()", "petsage_report"),
        ("'xpetsage_gatex'.strip('x')", "petsage_gate"),
        ("'petsage-probe'.replace('-', '_')", "petsage_probe"),
        ("'tropeR_egasteP'[::-1].lower()", "petsage_report"),
        ("'__petsage_gate'[2:]", "petsage_gate"),
        ("'abc'[1:name]", None),
        ("'abc'[0]", None),
        ("Path('/proc/self') / 'fd'", "/proc/self/fd"),
        ("pathlib.Path('/proc', 'self') / 'fd' / '4'", "/proc/self/fd/4"),
        ("os.path.join('/proc', 'self', 'fd')", "/proc/self/fd"),
        ("Path(name) / 'fd'", None),
        ("'x'.zfill(5)", None),
        ("'{:>100000000}'.format('a')", None),
        ("'%100000000s' % 'a'", None),
        ("'{name}'.format('a')", None),
        ("('x' * 9000 + 'y' * 9000)", None),
        ("1 + 2", None),
        ("'ab' * 3", None),
    ],
)
def test_what_is_folded(source: str, text: str | None) -> None:
    assert built_text(expression(source)) == text


def test_a_huge_fold_is_not_taken() -> None:
    assert built_text(expression("'{}'.format('" + "y" * 20_000 + "')")) is None
