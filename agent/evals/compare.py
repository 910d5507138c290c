"""`--compare OLD.json`: what got better or worse between two evaluation runs."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.evals.scoring import EvalRun, TaskResult


class Comparison(BaseModel):
    """Tasks that now pass and did not (better), that passed and no longer do (worse), totals."""

    old_model: str
    new_model: str
    better: list[str] = Field(default_factory=list)
    worse: list[str] = Field(default_factory=list)
    changed: list[str] = Field(
        default_factory=list, description="Same verdict, other status, rounds or stop reason."
    )
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    totals: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)


def compare(old: EvalRun, new: EvalRun) -> Comparison:
    """How `new` differs from `old`, task by task (a task passes when any attempt did)."""
    before, after = _by_task(old), _by_task(new)
    result = Comparison(old_model=old.model, new_model=new.model)
    result.added = sorted(set(after) - set(before))
    result.removed = sorted(set(before) - set(after))
    for name in sorted(set(before) & set(after)):
        was, now = before[name], after[name]
        if _passed(now) and not _passed(was):
            result.better.append(f"{name}: {_status(was)} → {_status(now)}")
        elif _passed(was) and not _passed(now):
            result.worse.append(f"{name}: {_status(was)} → {_status(now)}")
        elif _shape(was) != _shape(now):
            result.changed.append(f"{name}: {_shape(was)} → {_shape(now)}")
    for field in ("pass_at_1", "mean_rounds", "tokens_per_pass", "cost_per_pass", "seconds"):
        result.totals[field] = (getattr(old.totals, field), getattr(new.totals, field))
    return result


def markdown(comparison: Comparison) -> str:
    """The comparison as Markdown lines."""
    lines = [f"### Compared with `{comparison.old_model}` → `{comparison.new_model}`", ""]
    for title, items in (
        ("Better", comparison.better),
        ("Worse", comparison.worse),
        ("Changed", comparison.changed),
        ("New tasks", comparison.added),
        ("Tasks no longer run", comparison.removed),
    ):
        lines.append(f"- **{title}** ({len(items)})" + (": " + "; ".join(items) if items else ""))
    lines.append("")
    lines.append("| total | before | after | change |")
    lines.append("|---|---:|---:|---:|")
    for name, (was, now) in comparison.totals.items():
        change = f"{now - was:+.4g}" if was is not None and now is not None else "-"
        lines.append(f"| {name} | {_fmt(was)} | {_fmt(now)} | {change} |")
    return "\n".join(lines) + "\n"


def _by_task(run: EvalRun) -> dict[str, list[TaskResult]]:
    found: dict[str, list[TaskResult]] = {}
    for result in run.results:
        found.setdefault(result.task, []).append(result)
    return found


def _passed(results: list[TaskResult]) -> bool:
    return any(r.passed for r in results)


def _status(results: list[TaskResult]) -> str:
    return "passed" if _passed(results) else results[0].status


def _shape(results: list[TaskResult]) -> str:
    first = results[0]
    return f"{_status(results)}, {first.rounds} round(s), {first.stop_reason or '-'}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
