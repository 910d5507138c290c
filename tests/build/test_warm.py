"""A service loads the whole pipeline at start-up: its builds load nothing of it midway."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from agent.build.warm import warm_up
from agent.build.loop import Builder
from agent.models.offline import _template
from agent.settings import Settings
from tests.conftest import SMOKE_REQUEST

warm_up()
before, compiled = set(sys.modules), _template.cache_info().misses
result = Builder(Settings(workspace=sys.argv[1], sandbox="off")).run(SMOKE_REQUEST)
late = sorted(m for m in set(sys.modules) - before if m.startswith(("agent", "jinja2")))
print(result.status, late, _template.cache_info().misses - compiled)
"""


def test_after_warm_up_a_build_imports_and_compiles_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETSAGE_", "OPENAI_"))}
    env.update(PYTHONPATH=str(ROOT), PETSAGE_VERIFY="standard")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.stdout.strip().splitlines()[-1:] == ["succeeded [] 0"], done.stdout + done.stderr
