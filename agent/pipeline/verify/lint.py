"""Gate 5: `ruff check` on the generated files (pyflakes, bugbear, no relative imports).

Ruff reads the files; it never imports them, so it runs outside the box.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from agent.errors import InfrastructureError
from agent.pipeline.verify.outcome import GateOutcome

RULES = "F,B,TID252"
# FastAPI's `Depends()`/`Query()` defaults are the framework's idiom, not a bug; an unused
# import is harmless (the seed's own test module imports pytest and never uses it).
IGNORED = "B008,F401"
#: Ruff's wall-clock limit: it uses a few milliseconds of CPU on a feature's files.
RUFF_WALL_SECONDS = 300.0


def ruff_binary() -> str | None:
    """ruff's executable: the one beside this interpreter's package, else on PATH; None if none."""
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("ruff")


def gate(tree: Path, paths: list[str]) -> GateOutcome:
    """Findings of `ruff check` on `paths` (relative to `tree`), one reason each."""
    files = [p for p in paths if p.endswith(".py")]
    if not files:
        return GateOutcome(gate="lint", figures={"files": 0, "findings": 0})
    ruff = ruff_binary()
    if ruff is None:
        # A broken install, not the model's fault: said in the result, never a crash.
        return GateOutcome(
            gate="lint",
            figures={"files": len(files), "skipped": "ruff is not installed with the builder"},
        )
    try:
        done = _run_ruff(ruff, tree, files)
    except subprocess.TimeoutExpired as e:
        # The builder's own tool on a few files: only a machine too busy makes it this slow.
        raise InfrastructureError(
            f"ruff did not finish within {RUFF_WALL_SECONDS:.0f} s: the machine was too busy",
            stage="verified",
            limit="lint_wall_seconds",
            figure=RUFF_WALL_SECONDS,
            budget=RUFF_WALL_SECONDS,
        ) from e
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return GateOutcome(
            gate="lint", ok=False, reasons=[f"ruff failed: {done.stderr.strip()[:300]}"]
        )
    reasons = []
    for finding in findings:
        path = Path(finding["filename"]).resolve()
        try:
            shown = str(path.relative_to(tree.resolve()))
        except ValueError:
            shown = path.name
        row = (finding.get("location") or {}).get("row", 0)
        reasons.append(f"{shown}:{row}: {finding['code']} {finding['message']}")
    return GateOutcome(
        gate="lint",
        ok=not reasons,
        reasons=reasons,
        figures={"files": len(files), "findings": len(reasons)},
    )


def _run_ruff(ruff: str, tree: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            ruff,
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            RULES,
            "--ignore",
            IGNORED,
            "--config",
            "lint.flake8-tidy-imports.ban-relative-imports='all'",
            "--output-format",
            "json",
            "--",
            *files,
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        timeout=RUFF_WALL_SECONDS,
    )
