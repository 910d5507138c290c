"""A service loads the whole pipeline at start-up: its builds load nothing of it midway."""

from pathlib import Path

from tests.conftest import run_python

PROBE = """
import sys
from agent.pipeline.warm import warm_up
from agent.pipeline.loop import Builder
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
    done = run_python(PROBE, str(tmp_path / "ws"), cwd=tmp_path, env={"PETSAGE_VERIFY": "standard"})
    assert done.stdout.strip().splitlines()[-1:] == ["succeeded [] 0"], done.stdout + done.stderr
