"""A pytest plugin the builder loads into the target's test run: the feature's Alembic check.

As the tests start (in the box, as it imports generated code; in a forked child process, so
that it runs beside the tests rather than before them) it compares the base's schema with the
feature's tables and sends the builder a *description* of what autogenerate found: operations as
data (tables, columns, types, constraints, indexes), never code. The builder checks it against
the feature's declared fields and renders the revision from its own template
(`agent.pipeline.migration_ops`); its text comes back down the gate pipe, and this check then
runs it here, on a throwaway SQLite database: upgrade, downgrade, upgrade, and autogenerate must
find nothing left. Only the builder's text is ever committed. Copied into the run's scratch
folder like the gate: it needs nothing of the builder.
"""

import argparse
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import petsage_report  # type: ignore[import-not-found]  # beside it in the box
from petsage_gate import read_line  # type: ignore[import-not-found]

REPLY_VARIABLE = "PETSAGE_MIGRATION"
#: The builder's rendered revision, one JSON line.
REPLY_CAP = 4 * 1024**2
_child: list[int] = []


def pytest_sessionstart(session: Any) -> None:
    """Fork the check off, so that it runs beside the tests on another core."""
    raw = os.environ.pop(REPLY_VARIABLE, "")
    if not raw:
        return
    reply = int(raw)
    pid = os.fork()
    if pid:
        _child.append(pid)
        os.close(reply)
        return
    try:
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        channel = petsage_report.channel()
        if channel is not None:
            channel.fork_for(petsage_report.MIGRATION)
            _run(channel, reply)
    finally:
        os._exit(0)


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    """The session ends only once the check has reported."""
    while _child:
        os.waitpid(_child.pop(), 0)


def _run(channel: Any, reply: int) -> None:
    try:
        _check(channel, reply)
    except Exception as error:  # every failure is a repair reason
        last = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        channel.send({"t": "migration-checked", "ok": False, "reason": f"{error!r}{where}"})


def _check(channel: Any, reply: int) -> None:
    root = Path.cwd()
    if not (root / "alembic.ini").is_file():
        channel.send({"t": "migration", "ops": [], "skipped": "no alembic.ini"})
        return
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from alembic import command
    from alembic.config import Config

    importlib.import_module("src.tables")  # every feature's table module
    db = importlib.import_module("src.db")
    scratch = Path(tempfile.mkdtemp(prefix="petsage-migration-"))
    versions = scratch / "versions"
    versions.mkdir()
    url = f"sqlite:///{scratch / 'throwaway.db'}"
    config = Config(str(root / "alembic.ini"))
    locations = [str(root / "migrations" / "versions"), str(versions)]
    config.set_main_option("version_locations", os.pathsep.join(locations))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    engine = db.make_engine(url)
    try:
        command.upgrade(config, "heads")
        operations = _describe(engine, db.Base.metadata)
        channel.send({"t": "migration", "ops": operations})
        if not operations:
            return
        answer = json.loads(read_line(reply, REPLY_CAP).decode("utf-8") or "{}")
        text = answer.get("text")
        if not isinstance(text, str):
            return  # the builder refused the description: it says why itself
        result = _try(command, config, engine, db, versions, answer, text)
        channel.send({"t": "migration-checked", **result})
    finally:
        engine.dispose()
        shutil.rmtree(scratch, ignore_errors=True)


def _try(
    command: Any, config: Any, engine: Any, db: Any, versions: Path, answer: Any, text: str
) -> dict[str, Any]:
    """The builder's revision, run here: upgrade, downgrade, upgrade, and nothing left."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    (versions / f"{answer['revision']}.py").write_text(text, encoding="utf-8")
    command.upgrade(config, "heads")
    command.downgrade(config, answer.get("below") or "base")
    command.upgrade(config, "heads")
    left = _describe(engine, db.Base.metadata)
    if left:
        return {"ok": False, "sha256": digest, "reason": f"after upgrading, still {left[:3]}"}
    from alembic.script import ScriptDirectory

    heads = list(ScriptDirectory.from_config(config).get_heads())
    return {"ok": True, "sha256": digest, "heads": heads}


def _describe(engine: Any, metadata: Any) -> list[dict[str, Any]]:
    """What autogenerate would do to the database to reach `metadata`, as plain data."""
    from alembic.autogenerate import produce_migrations
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        script = produce_migrations(context, metadata)
    upgrade = script.upgrade_ops
    return [_operation(op) for op in upgrade.ops] if upgrade is not None else []


def _operation(op: Any) -> dict[str, Any]:
    kind = type(op).__name__
    if kind == "CreateTableOp":
        table = op.to_table()
        return {
            "op": "create_table",
            "table": table.name,
            "columns": [_column(column) for column in table.columns],
            "constraints": [_constraint(c) for c in table.constraints],
        }
    if kind == "ModifyTableOps":
        return {
            "op": "modify_table",
            "table": op.table_name,
            "ops": [_operation(o) for o in op.ops],
        }
    if kind in ("AddColumnOp", "DropColumnOp"):
        name = "add_column" if kind == "AddColumnOp" else "drop_column"
        return {"op": name, "table": op.table_name, "column": _column(op.to_column())}
    if kind in ("CreateIndexOp", "DropIndexOp"):
        index = op.to_index()
        return {
            "op": "create_index" if kind == "CreateIndexOp" else "drop_index",
            "table": op.table_name,
            "name": _name(index.name),
            "columns": [str(c.name) for c in index.columns] or list(op.columns or []),
            "unique": bool(index.unique),
        }
    if kind == "AlterColumnOp":
        return {
            "op": "alter_column",
            "table": op.table_name,
            "column": op.column_name,
            "nullable": op.modify_nullable,
            "type": _type(op.modify_type) if op.modify_type is not None else None,
            "existing_type": _type(op.existing_type) if op.existing_type is not None else None,
            "existing_nullable": op.existing_nullable,
        }
    return {"op": kind, "table": str(getattr(op, "table_name", ""))}


def _column(column: Any) -> dict[str, Any]:
    return {
        "name": str(column.name),
        "type": _type(column.type),
        "nullable": bool(column.nullable),
        "primary_key": bool(column.primary_key),
        "server_default": None if column.server_default is None else "set",
        "foreign_keys": [
            {"target": fk.target_fullname, "ondelete": fk.ondelete, "name": _name(fk.name)}
            for fk in column.foreign_keys
        ],
    }


def _type(value: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": type(value).__name__}
    for attribute in ("length", "precision", "scale", "timezone", "asdecimal"):
        item = getattr(value, attribute, None)
        if item is not None:
            found[attribute] = item
    enums = getattr(value, "enums", None)
    if enums:
        found["enums"] = [str(e) for e in enums]
    return found


def _constraint(constraint: Any) -> dict[str, Any]:
    kind = type(constraint).__name__
    found: dict[str, Any] = {"kind": kind, "name": _name(constraint.name)}
    if kind == "CheckConstraint":
        found["sql"] = str(constraint.sqltext)
    elif kind == "ForeignKeyConstraint":
        found["columns"] = [str(c) for c in constraint.column_keys]
        found["targets"] = [e.target_fullname for e in constraint.elements]
        found["ondelete"] = constraint.ondelete
    else:
        found["columns"] = [str(c.name) for c in constraint.columns]
    return found


def _name(name: Any) -> str | None:
    if name is None or type(name).__name__ == "_NoneName":
        return None
    return str(name)
