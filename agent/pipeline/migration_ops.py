"""The feature's Alembic revision, rendered by the builder from a checked description.

The box runs autogenerate and sends what it found as data (`agent.box.migrations_plugin`); this
module refuses anything outside a closed vocabulary (operations, column types, constraint kinds,
a small SQL grammar for CHECKs), anything on a table the feature does not own, and anything
that disagrees with the fields the request declares; then renders the revision from its own
template, every value through `repr` of a checked plain value. No text from the box is ever
written into the revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import MigrationRefused
from agent.fields import ResourceSpec
from agent.pipeline.migration_fields import check_fields
from agent.pipeline.migration_sql import check_sql
from agent.pipeline.persistence import alembic_heads
from agent.request import FeatureRequest

if TYPE_CHECKING:
    from agent.pipeline.round import Base

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: Column types a revision may use, with the arguments each may carry.
TYPES: dict[str, tuple[str, ...]] = {
    "Integer": (),
    "BigInteger": (),
    "SmallInteger": (),
    "Float": ("precision", "asdecimal"),
    "Numeric": ("precision", "scale", "asdecimal"),
    "Boolean": (),
    "Date": (),
    "DateTime": ("timezone",),
    "Time": ("timezone",),
    "String": ("length",),
    "Text": ("length",),
    "Enum": (),
    "JSON": (),
    "Uuid": (),
}
#: Constraints in a fixed order, whatever order the box described them in.
_ORDER = {"PrimaryKeyConstraint": 0, "ForeignKeyConstraint": 1, "UniqueConstraint": 2}
_ONDELETE = (None, "CASCADE", "RESTRICT", "SET NULL", "NO ACTION", "SET DEFAULT")


@dataclass(frozen=True)
class MigrationPlan:
    """What the builder knows of the revision before the box says anything."""

    feature: str
    revision: str
    message: str
    down_revision: str | tuple[str, ...] | None
    resource: ResourceSpec | None
    #: The feature's first revision of a resource: its table must be among the operations.
    new_table: bool = False

    @classmethod
    def for_base(cls, request: FeatureRequest, base: Base, root: Path) -> MigrationPlan:
        """The plan of `request`'s revision (named by `base`) on the builder's own checkout at
        `root`: its parents are that checkout's heads, read without running anything."""
        heads = alembic_heads(root)
        down: str | tuple[str, ...] | None = (
            None if not heads else heads[0] if len(heads) == 1 else tuple(heads)
        )
        first = request.resource is not None and base.revision_path.endswith("_001.py")
        return cls(
            request.feature, base.revision, base.revision_message, down, request.resource, first
        )

    def render(self, operations: Any) -> str:
        """The revision's text for `operations`, or `MigrationRefused` saying why not."""
        if not isinstance(operations, list) or not operations:
            raise MigrationRefused("the migration check sent no operations")
        upgrade: list[str] = []
        downgrade: list[str] = []
        for operation in operations:
            up, down = self._operation(_mapping(operation, "operation"))
            upgrade += up
            downgrade = down + downgrade
        if self.resource is not None:
            self._against_fields(operations)
        if self.new_table and not any(o.get("op") == "create_table" for o in operations):
            raise MigrationRefused(self.missing_table())
        return _TEMPLATE.format(
            message=self.message,
            revision=self.revision,
            revises=_revises(self.down_revision),
            revision_repr=repr(self.revision),
            down_repr=repr(self.down_revision),
            upgrade="\n".join(upgrade),
            downgrade="\n".join(downgrade),
        )

    def missing_table(self) -> str:
        """Why a first revision without the feature's table is refused."""
        return (
            f"the migration check did not find table {self.feature!r}: a resource feature's "
            f"first build must declare it (`__tablename__ = {self.feature!r}`) where "
            "`src/tables.py` imports it, for every process that imports the app"
        )

    def _operation(self, operation: dict[str, Any]) -> tuple[list[str], list[str]]:
        kind = operation.get("op")
        table = self._table(operation.get("table"))
        if kind == "create_table":
            return _create_table(table, operation)
        if kind == "create_index":
            return _create_index(table, operation)
        if kind == "modify_table":
            inner = operation.get("ops")
            if not isinstance(inner, list) or not inner:
                raise MigrationRefused(f"a change of table {table!r} with no operations")
            return _batch(table, [self._inner(table, _mapping(o, "operation")) for o in inner])
        raise MigrationRefused(
            f"autogenerate wants {kind!r} on {table!r}: the builder writes only new tables, "
            "columns and indexes of the feature's own table (no drop of a table, no data change)"
        )

    def _inner(self, table: str, operation: dict[str, Any]) -> tuple[list[str], list[str]]:
        kind = operation.get("op")
        if kind == "add_column":
            column = _column(table, _mapping(operation.get("column"), "column"))
            name = repr(_name(operation["column"].get("name"), "column"))
            return [f"batch_op.add_column({column})"], [f"batch_op.drop_column({name})"]
        if kind == "drop_column":
            column = _column(table, _mapping(operation.get("column"), "column"))
            name = repr(_name(operation["column"].get("name"), "column"))
            return [f"batch_op.drop_column({name})"], [f"batch_op.add_column({column})"]
        if kind == "alter_column":
            return _alter(operation)
        if kind in ("create_index", "drop_index"):
            up, down = _create_index(table, operation, batch=True)
            return (up, down) if kind == "create_index" else (down, up)
        raise MigrationRefused(
            f"autogenerate wants {kind!r} on table {table!r}, which the builder does not write"
        )

    def _table(self, value: Any) -> str:
        table = _name(value, "table")
        if table != self.feature:
            raise MigrationRefused(
                f"the feature's files change table {table!r}: a feature owns only its own table, "
                f"named {self.feature!r} (`__tablename__ = {self.feature!r}`)"
            )
        return table

    def _against_fields(self, operations: list[Any]) -> None:
        """The declared fields, and nothing else but `id`, are the table's columns."""
        assert self.resource is not None
        check_fields(operations, self.resource, self.feature)


def _create_table(table: str, operation: dict[str, Any]) -> tuple[list[str], list[str]]:
    columns = operation.get("columns")
    if not isinstance(columns, list) or not columns:
        raise MigrationRefused(f"table {table!r} has no columns")
    names = {_name(_mapping(c, "column").get("name"), "column") for c in columns}
    parts = [_column(table, c, inline_keys=False) for c in columns]
    constraints = sorted(
        (_mapping(c, "constraint") for c in operation.get("constraints") or []),
        key=lambda c: (_ORDER.get(str(c.get("kind")), 9), str(c.get("name") or "")),
    )
    parts += [_constraint(table, c, names) for c in constraints]
    body = "".join(f"        {part},\n" for part in parts)
    up = f"    op.create_table(\n        {table!r},\n{body}    )"
    return [up], [f"    op.drop_table({table!r})"]


def _create_index(
    table: str, operation: dict[str, Any], *, batch: bool = False
) -> tuple[list[str], list[str]]:
    name = _name(operation.get("name"), "index")
    columns = operation.get("columns")
    if not isinstance(columns, list) or not columns:
        raise MigrationRefused(f"index {name!r} has no columns")
    listed = [_name(c, "column") for c in columns]
    unique = operation.get("unique") is True
    if batch:
        return (
            [f"batch_op.create_index(batch_op.f({name!r}), {listed!r}, unique={unique})"],
            [f"batch_op.drop_index(batch_op.f({name!r}))"],
        )
    return (
        [f"    op.create_index(op.f({name!r}), {table!r}, {listed!r}, unique={unique})"],
        [f"    op.drop_index(op.f({name!r}), table_name={table!r})"],
    )


def _batch(table: str, pairs: list[tuple[list[str], list[str]]]) -> tuple[list[str], list[str]]:
    opening = f"    with op.batch_alter_table({table!r}, schema=None) as batch_op:"
    up = [line for pair in pairs for line in pair[0]]
    down = [line for pair in reversed(pairs) for line in pair[1]]
    return [opening, *(f"        {line}" for line in up)], [
        opening,
        *(f"        {line}" for line in down),
    ]


def _alter(operation: dict[str, Any]) -> tuple[list[str], list[str]]:
    column = _name(operation.get("column"), "column")
    new_type, old_type = operation.get("type"), operation.get("existing_type")
    nullable, old_nullable = operation.get("nullable"), operation.get("existing_nullable")
    if not isinstance(old_type, dict):
        raise MigrationRefused(f"a change of column {column!r} without its present type")
    for flag in (nullable, old_nullable):
        if flag is not None and not isinstance(flag, bool):
            raise MigrationRefused(f"a change of column {column!r} with a bad nullability")

    def change(to_type: Any, to_null: Any, from_type: Any, from_null: Any) -> str:
        arguments = [repr(column), f"existing_type={_type(from_type)}"]
        if to_type is not None:
            arguments.append(f"type_={_type(to_type)}")
        if to_null is not None:
            arguments.append(f"nullable={to_null!r}")
        if from_null is not None:
            arguments.append(f"existing_nullable={from_null!r}")
        return f"batch_op.alter_column({', '.join(arguments)})"

    up = change(new_type, nullable, old_type, old_nullable)
    down = change(
        old_type if new_type is not None else None,
        old_nullable if nullable is not None else None,
        new_type if new_type is not None else old_type,
        nullable if nullable is not None else old_nullable,
    )
    return [up], [down]


def _column(table: str, column: dict[str, Any], *, inline_keys: bool = True) -> str:
    name = _name(column.get("name"), "column")
    if column.get("server_default") is not None:
        raise MigrationRefused(
            f"column {name!r} has a server default: defaults belong in the Pydantic models"
        )
    arguments = [repr(name), _type(_mapping(column.get("type"), "type"))]
    keys = column.get("foreign_keys") or []
    if inline_keys:
        for key in keys:
            key = _mapping(key, "foreign key")
            target = _target(key.get("target"))
            ondelete = _ondelete(key.get("ondelete"))
            extra = f", ondelete={ondelete!r}" if ondelete else ""
            arguments.append(f"sa.ForeignKey({target!r}{extra})")
    arguments.append(f"nullable={bool(column.get('nullable'))!r}")
    if column.get("primary_key") is True and inline_keys:
        arguments.append("primary_key=True")
    return f"sa.Column({', '.join(arguments)})"


def _constraint(table: str, constraint: dict[str, Any], columns: set[str]) -> str:
    kind, name = constraint.get("kind"), constraint.get("name")
    named = "" if name is None else f", name=op.f({_name(name, 'constraint')!r})"
    if kind == "CheckConstraint":
        sql = check_sql(constraint.get("sql"), columns)
        return f"sa.CheckConstraint({sql!r}{named})"
    listed = [_name(c, "column") for c in constraint.get("columns") or []]
    if not listed or not set(listed) <= columns:
        raise MigrationRefused(f"a {kind} of table {table!r} over columns it does not have")
    if kind == "PrimaryKeyConstraint":
        return f"sa.PrimaryKeyConstraint({', '.join(map(repr, listed))}{named})"
    if kind == "UniqueConstraint":
        return f"sa.UniqueConstraint({', '.join(map(repr, listed))}{named})"
    if kind == "ForeignKeyConstraint":
        targets = [_target(t) for t in constraint.get("targets") or []]
        if len(targets) != len(listed):
            raise MigrationRefused(f"a foreign key of table {table!r} with mismatched columns")
        ondelete = _ondelete(constraint.get("ondelete"))
        extra = f", ondelete={ondelete!r}" if ondelete else ""
        return f"sa.ForeignKeyConstraint({listed!r}, {targets!r}{named}{extra})"
    raise MigrationRefused(
        f"table {table!r} has a {kind!r} constraint, which the builder does not write"
    )


def _type(value: Any) -> str:
    value = _mapping(value, "type")
    name = value.get("name")
    if name not in TYPES:
        raise MigrationRefused(
            f"column type {name!r} is not one the builder writes: use one of {', '.join(TYPES)}"
        )
    arguments: list[str] = []
    if name == "Enum":
        enums = value.get("enums")
        if not isinstance(enums, list) or not enums or not all(isinstance(e, str) for e in enums):
            raise MigrationRefused("an Enum column without its values")
        arguments += [repr(e) for e in enums]
    for key in TYPES[name]:
        item = value.get(key)
        if item is None:
            continue
        if isinstance(item, bool) or (isinstance(item, int) and 0 <= item <= 1_000_000):
            arguments.append(f"{key}={item!r}")
        else:
            raise MigrationRefused(f"a {name} column with {key}={item!r}")
    return f"sa.{name}({', '.join(arguments)})"


def _target(value: Any) -> str:
    if not isinstance(value, str) or value.count(".") != 1:
        raise MigrationRefused(f"a foreign key to {value!r}, which is not `table.column`")
    table, column = value.split(".")
    return f"{_name(table, 'table')}.{_name(column, 'column')}"


def _ondelete(value: Any) -> str | None:
    if value not in _ONDELETE:
        raise MigrationRefused(f"a foreign key with ON DELETE {value!r}")
    return value if isinstance(value, str) else None


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise MigrationRefused(f"a {what} named {value!r}: names are letters, digits and _")
    return value


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MigrationRefused(f"a {what} that is not described as an object")
    return value


def _revises(down: str | tuple[str, ...] | None) -> str:
    if down is None:
        return ""
    return down if isinstance(down, str) else ", ".join(down)


_TEMPLATE = '''"""{message}

Revision ID: {revision}
Revises: {revises}

Written by PetSage Builder from its own template (never by the model), and run in the sandbox:
upgrade, downgrade, upgrade.
"""

import sqlalchemy as sa
from alembic import op

revision = {revision_repr}
down_revision = {down_repr}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''
