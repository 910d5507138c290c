"""An evaluation run as Markdown: one row per task attempt, then the totals and stop reasons."""

from __future__ import annotations

from agent.evals.scoring import EvalRun, TaskResult

MARK = {"passed": "✅ passed", "failed": "❌ failed", "refused": "⛔ refused", "error": "⚠️ error"}


def markdown(run: EvalRun) -> str:
    """The run's table and totals, ready for a README or a pull request comment."""
    totals = run.totals
    lines = [
        f"### Eval: `{run.model}` on `{run.suite}` ({totals.tasks} tasks, "
        f"{totals.attempts} attempt(s) each, prompts v{run.prompt_version})",
        "",
        "| task | category | reach | result | rounds | tokens (prompt + completion) | cost | "
        "seconds | stop | gates | acceptance |",
        "|---|---|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    lines += [_row(result) for result in run.results]
    pass_k = "".join(f", pass@{k} {v:.2f}" for k, v in totals.pass_at_k.items())
    lines += [
        "",
        f"**pass@1 {totals.pass_at_1:.2f}**{pass_k}: {totals.passed} of {totals.tasks} tasks "
        f"passed, {totals.refused} refused, {totals.failed} failed. Mean rounds "
        f"{totals.mean_rounds:.2f}; tokens per passed task {_num(totals.tokens_per_pass)}; "
        f"cost per passed task {_usd(totals.cost_per_pass)}; {totals.seconds:.0f} s of builds.",
        "",
        "Stop reasons: "
        + ", ".join(f"{reason} {count}" for reason, count in totals.stop_reasons.items())
        + ".",
        "",
        "By category: "
        + ", ".join(f"{c} {done}/{count}" for c, (done, count) in totals.by_category.items())
        + ".",
    ]
    refusals = [r for r in run.results if r.refused and r.reasons]
    if refusals:
        lines += ["", f"Refused with: {_short(refusals[0].reasons[0], 240)}"]
    return "\n".join(lines) + "\n"


def _row(result: TaskResult) -> str:
    gates = " ".join(f"{name}{'✓' if ok else '✗'}" for name, ok in result.gates.items()) or "-"
    if result.vacuous_tests:
        gates += " (vacuous tests)"
    acceptance = (
        f"{result.acceptance.passed}/{result.acceptance.total}" if result.acceptance.total else "-"
    )
    name = result.task if result.attempt == 1 else f"{result.task} #{result.attempt}"
    return (
        f"| {name} | {result.category} | {result.reach} | {MARK[result.status]} | "
        f"{result.rounds} | {result.prompt_tokens} + {result.completion_tokens} | "
        f"{_usd(result.cost_usd)} | {result.seconds:.1f} | {result.stop_reason or '-'} | "
        f"{gates} | {acceptance} |"
    )


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"
