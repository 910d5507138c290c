"""`petsage-builder eval`: how well a model builds the suite's features (agent.evals).

Exit codes: 0 the run finished (whatever its score), 1 a task could not be run at all (an
`error` row: a harness or environment fault, not the model's), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.cli.common import EXIT_FAILED, EXIT_OK, BadInput, settings_from

if TYPE_CHECKING:
    from agent.evals.scoring import EvalRun, TaskResult

DEFAULT_OUT = Path("generated/evals")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `eval` subcommand and its flags."""
    parser = commands.add_parser("eval", help="score a model on the evaluation suite")
    parser.add_argument(
        "--model", metavar="SPEC", help="offline, openai:<model>, local:<path.gguf>, replay:DIR"
    )
    parser.add_argument(
        "--suite", default="builtin", metavar="builtin|DIR", help="the suite (default builtin)"
    )
    parser.add_argument(
        "--tasks", metavar="GLOB", help="only the tasks whose name matches (globs, comma-separated)"
    )
    parser.add_argument("--attempts", type=int, default=1, metavar="N", help="tries per task")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="tasks at once")
    parser.add_argument("--json", action="store_true", help="print the run as JSON")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="results, recordings and the resume cache (default generated/evals/<model>)",
    )
    parser.add_argument("--compare", type=Path, metavar="OLD.json", help="an earlier run")
    parser.add_argument("--max-rounds", type=int, metavar="N", help="model rounds per build")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run_eval_command)


def run_eval_command(args: argparse.Namespace) -> int:
    """Run the evaluation the flags describe; print the table (or JSON), write the files."""
    if not 1 <= args.attempts <= 20:
        raise BadInput("--attempts: must be between 1 and 20")
    if not 1 <= args.jobs <= 32:
        raise BadInput("--jobs: must be between 1 and 32")
    settings = settings_from(args)
    from agent.errors import ConfigError
    from agent.evals.compare import Comparison
    from agent.evals.session import EvalPlan, run_eval
    from agent.evals.tasks import load_suite, select

    old: EvalRun | None = None
    if args.compare is not None:
        old = _read_run(args.compare)
    try:
        tasks = select(load_suite(args.suite), args.tasks)
        model = settings.model
        out = args.out or DEFAULT_OUT / re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[:80]
        plan = EvalPlan(tasks, model, str(args.suite), settings, out, args.attempts, args.jobs)
        if plan.replay_dir is not None and not plan.replay_dir.is_dir():
            raise ConfigError(f"--model {model}: no such folder of recordings")
        run = run_eval(plan, on_result=None if args.quiet else _progress)
    except ConfigError as e:
        raise BadInput(str(e)) from e
    comparison: Comparison | None = None
    if old is not None:
        from agent.evals.compare import compare

        comparison = compare(old, run)
    _write(run, out, comparison)
    _show(run, comparison, args.json, out)
    return EXIT_FAILED if any(r.status == "error" for r in run.results) else EXIT_OK


def _read_run(path: Path) -> EvalRun:
    from pydantic import ValidationError

    from agent.evals.scoring import EvalRun

    try:
        return EvalRun.model_validate_json(path.read_bytes())
    except OSError as e:
        raise BadInput(f"--compare: cannot read {path}: {e.strerror}") from e
    except ValidationError as e:
        raise BadInput(
            f"--compare: {path} is not an eval run's JSON: {e.errors()[0]['msg']}"
        ) from e


def _progress(result: TaskResult, done: int, total: int) -> None:
    width = 24
    filled = width * done // total
    bar = "#" * filled + "-" * (width - filled)
    note = " (cached)" if result.cached else ""
    line = f"[{bar}] {done}/{total} {result.task}: {result.status}{note}"
    end = "\n" if done == total or not sys.stderr.isatty() else ""
    print(f"\r\x1b[2K{line}" if sys.stderr.isatty() else line, end=end, file=sys.stderr)
    sys.stderr.flush()


def _write(run: EvalRun, out: Path, comparison: object) -> None:
    from agent.evals.chart import write_chart
    from agent.evals.report import markdown

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(_as_json(run, comparison))
    (out / "report.md").write_text(markdown(run))
    write_chart(run, out / "chart.png")


def _show(run: EvalRun, comparison: object, as_json: bool, out: Path) -> None:
    from agent.evals.compare import Comparison
    from agent.evals.compare import markdown as compared
    from agent.evals.report import markdown

    if as_json:
        print(_as_json(run, comparison))
        return
    print(markdown(run))
    if isinstance(comparison, Comparison):
        print(compared(comparison))
    print(
        f"results: {out / 'results.json'}, {out / 'report.md'}, {out / 'chart.png'}",
        file=sys.stderr,
    )


def _as_json(run: EvalRun, comparison: object) -> str:
    from agent.evals.compare import Comparison

    body = run.model_dump(mode="json")
    if isinstance(comparison, Comparison):
        body["comparison"] = comparison.model_dump(mode="json")
    return json.dumps(body, indent=2)
