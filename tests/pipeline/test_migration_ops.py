"""The builder renders the feature's revision from a description, refusing anything outside its
vocabulary: the text that is committed never comes from the box."""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.errors import MigrationRefused
from agent.fields.words import parse_field_lines
from agent.pipeline.migration_ops import MigrationPlan
from agent.pipeline.migration_sql import check_sql

FIELDS = parse_field_lines("grams: int >=1\nnote: str? len<=40\nowner_id: ref pet_profile?")


def column(name: str, kind: str, nullable: bool, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": {"name": kind, **extra.pop("type", {})},
        "nullable": nullable,
        "primary_key": extra.pop("primary_key", False),
        "server_default": None,
        "foreign_keys": extra.pop("foreign_keys", []),
    }


def description() -> list[dict[str, Any]]:
    return [
        {
            "op": "create_table",
            "table": "pet_weight",
            "columns": [
                column("id", "Integer", False, primary_key=True),
                column("grams", "Integer", False),
                column("note", "String", True, type={"length": 40}),
                column(
                    "owner_id",
                    "Integer",
                    True,
                    foreign_keys=[{"target": "pet_profile.id", "ondelete": None, "name": None}],
                ),
            ],
            "constraints": [
                {
                    "kind": "CheckConstraint",
                    "name": "ck_pet_weight_grams_ge",
                    "sql": '"grams" >= 1',
                },
                {"kind": "PrimaryKeyConstraint", "name": "pk_pet_weight", "columns": ["id"]},
                {
                    "kind": "ForeignKeyConstraint",
                    "name": "fk_pet_weight_owner_id_pet_profile",
                    "columns": ["owner_id"],
                    "targets": ["pet_profile.id"],
                    "ondelete": "RESTRICT",
                },
            ],
        },
        {
            "op": "create_index",
            "table": "pet_weight",
            "name": "ix_pet_weight_grams",
            "columns": ["grams"],
            "unique": False,
        },
    ]


PLAN = MigrationPlan(
    feature="pet_weight",
    revision="abc123def456",
    message="pet_weight: tables of build 1",
    down_revision="0123456789ab",
    resource=FIELDS,
)


def test_a_described_table_is_rendered_from_the_builders_template() -> None:
    text = PLAN.render(description())
    tree = ast.parse(text)  # plain Python
    assert "revision = 'abc123def456'" in text and "down_revision = '0123456789ab'" in text
    assert "sa.Column('note', sa.String(length=40), nullable=True)" in text
    assert "sa.CheckConstraint('\"grams\" >= 1', name=op.f('ck_pet_weight_grams_ge'))" in text
    assert "op.create_index(op.f('ix_pet_weight_grams'), 'pet_weight', ['grams']" in text
    assert "op.drop_table('pet_weight')" in text
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert calls <= {
        "create_table",
        "create_index",
        "drop_index",
        "drop_table",
        "f",
        "Column",
        "Integer",
        "String",
        "CheckConstraint",
        "PrimaryKeyConstraint",
        "ForeignKeyConstraint",
    }
    shuffled = description()
    shuffled[0]["constraints"].reverse()
    assert PLAN.render(shuffled) == text  # the same bytes, whatever order the box used


def test_a_rendered_revision_round_trips_on_sqlite(tmp_path: Path) -> None:
    """The text runs under Alembic: upgrade, downgrade (a check of the renderer itself; the
    build runs it in the box)."""
    plan = MigrationPlan("pet_weight", "abc123def456", "m", None, None)
    operations = description()
    operations[0]["columns"].pop()  # no foreign key here: no pet_profile table
    operations[0]["constraints"].pop()
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "abc123def456.py").write_text(plan.render(operations))
    script = (
        "from alembic.config import Config\nfrom alembic import command\n"
        f"c = Config()\nc.set_main_option('script_location', {str(tmp_path)!r})\n"
        f"c.set_main_option('sqlalchemy.url', 'sqlite:///{tmp_path}/db.sqlite')\n"
        "command.upgrade(c, 'head')\ncommand.downgrade(c, 'base')\ncommand.upgrade(c, 'head')\n"
    )
    (tmp_path / "env.py").write_text(
        "from alembic import context\nfrom sqlalchemy import create_engine\n"
        "engine = create_engine(context.config.get_main_option('sqlalchemy.url'))\n"
        "with engine.connect() as connection:\n"
        "    context.configure(connection=connection)\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n"
    )
    (tmp_path / "script.py.mako").write_text("")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    tables = subprocess.run(
        ["sqlite3", str(tmp_path / "db.sqlite"), ".tables"],
        capture_output=True,
        text=True,
        check=False,
    )
    if tables.returncode == 0:
        assert "pet_weight" in tables.stdout


def spoil(path: list[Any], value: Any) -> list[dict[str, Any]]:
    operations = copy.deepcopy(description())
    target: Any = operations
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return operations


@pytest.mark.parametrize(
    ("operations", "why"),
    [
        (spoil([0, "table"], "pet_profile"), "owns only its own table"),
        (spoil([0, "columns", 1, "name"], "grams'); import os #"), "names are letters"),
        (spoil([0, "columns", 1, "type", "name"], "PickleType"), "not one the builder writes"),
        (
            spoil([0, "columns", 1, "type", "name"], "Integer(); __import__('os')"),
            "not one the builder",
        ),
        (spoil([0, "columns", 2, "type", "length"], "40); import os; ("), "length="),
        (spoil([0, "columns", 2, "server_default"], "set"), "server default"),
        (spoil([0, "constraints", 0, "sql"], '"grams" >= 1; DROP TABLE pet_weight'), "CHECK holds"),
        (spoil([0, "constraints", 0, "sql"], '"grams" >= (SELECT 1)'), "'SELECT'"),
        (spoil([0, "constraints", 0, "sql"], '"grams" >= 1 -- x'), "CHECK holds"),
        (spoil([0, "constraints", 2, "ondelete"], "CASCADE; DROP"), "ON DELETE"),
        (spoil([0, "constraints", 2, "targets"], ["pet_profile.id; x"]), "names are letters"),
        (spoil([0, "constraints", 2, "targets"], ["a.b.c"]), "table.column"),
        (spoil([1, "op"], "drop_table"), "'drop_table'"),
        (spoil([0, "columns", 2, "name"], "weight"), "undeclared weight; missing note"),
        (spoil([0, "columns", 1, "type", "name"], "String"), "declared int"),
        (spoil([0, "columns", 1, "nullable"], True), "must be NOT NULL"),
        (spoil([0, "columns", 3, "foreign_keys"], []), "foreign key to pet_profile.id"),
        ([], "no operations"),
        (
            [{"op": "modify_table", "table": "pet_weight", "ops": [{"op": "execute", "sql": "x"}]}],
            "'execute'",
        ),
    ],
)
def test_what_the_builder_does_not_write_is_refused(operations: Any, why: str) -> None:
    with pytest.raises(MigrationRefused) as refused:
        PLAN.render(operations)
    assert why in str(refused.value)


def test_a_later_build_adds_a_declared_column_in_a_batch() -> None:
    operations = [
        {
            "op": "modify_table",
            "table": "pet_weight",
            "ops": [
                {"op": "add_column", "table": "pet_weight", "column": column("note", "Text", True)}
            ],
        }
    ]
    text = PLAN.render(operations)
    assert "with op.batch_alter_table('pet_weight', schema=None) as batch_op:" in text
    assert "batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))" in text
    assert "batch_op.drop_column('note')" in text
    ast.parse(text)


@pytest.mark.parametrize(
    "sql",
    [
        '"age" >= 0',
        'length("name") >= 1',
        "\"species\" IN ('dog', 'cat''s', 'bird')",
        '"age" BETWEEN 0 AND 40 OR "age" IS NULL',
        "weight_kg <= 9.5e1",
    ],
)
def test_the_checks_people_write_pass_the_grammar(sql: str) -> None:
    assert check_sql(sql, {"age", "name", "species", "weight_kg"}) == sql
