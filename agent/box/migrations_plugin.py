"""A pytest plugin the builder loads into the target's test run: the feature's Alembic revision.

As the tests start (in the box, as it imports generated code; in a forked child process, so
that it runs beside the tests rather than before them) it autogenerates the
revision that takes the base's schema to the feature's tables, checks upgrade → downgrade →
upgrade on a throwaway SQLite database, and that autogenerate then finds nothing left. It writes
what it found (and the revision's text) as JSON for the builder, which adds the file to the
commit. Copied into the run's scratch folder like the gate: it needs nothing of the builder.
"""

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

SPEC_VARIABLE = "PETSAGE_MIGRATION"


_child: list[int] = []


def pytest_sessionstart(session: object) -> None:
    """Fork the check off, so that it runs beside the tests on another core."""
    raw = os.environ.get(SPEC_VARIABLE)
    if not raw:
        return
    spec = json.loads(raw)
    if not hasattr(os, "fork"):
        _run(spec)
        return
    pid = os.fork()
    if pid:
        _child.append(pid)
        return
    try:
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        _run(spec)
    finally:
        os._exit(0)


def pytest_sessionfinish(session: object, exitstatus: object) -> None:
    """The run ends only once the check has written what it found."""
    while _child:
        os.waitpid(_child.pop(), 0)


def _run(spec: dict[str, str]) -> None:
    try:
        result = _check(spec)
    except Exception as error:  # every failure is a repair reason
        last = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        result = {"ok": False, "reason": f"{type(error).__name__}: {error}{where}"}
    with open(spec["out"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def _check(spec: dict[str, str]) -> dict[str, object]:
    root = Path.cwd()
    if not (root / "alembic.ini").is_file():
        return {"ok": True, "skipped": "no alembic.ini"}
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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

    def differences() -> list[object]:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            return list(compare_metadata(context, db.Base.metadata))

    try:
        command.upgrade(config, "heads")
        if not differences():
            return {"ok": True}
        made = command.revision(
            config,
            message=spec["message"],
            autogenerate=True,
            rev_id=spec["revision"],
            version_path=str(versions),
        )
        script = made[0] if isinstance(made, list) else made
        if script is None:
            return {"ok": False, "reason": "alembic made no revision"}
        down = script.down_revision
        if down is None:
            below = "base"
        else:
            below = down if isinstance(down, str) else f"{script.revision}-1"
        command.upgrade(config, "heads")
        command.downgrade(config, below)
        command.upgrade(config, "heads")
        left = differences()
        if left:
            return {
                "ok": False,
                "reason": f"after upgrading, autogenerate still finds {left[:5]!r}",
            }
        heads = list(ScriptDirectory.from_config(config).get_heads())
        content = Path(script.path).read_text(encoding="utf-8")
        return {"ok": True, "revision": script.revision, "heads": heads, "content": content}
    finally:
        engine.dispose()
        shutil.rmtree(scratch, ignore_errors=True)
