"""The `verified` stage as text: a one-line summary and a Markdown section for report and PR."""

from __future__ import annotations

from agent.pipeline.verify import contract
from agent.pipeline.verify.outcome import Verification


def verification_summary(verification: Verification) -> str:
    """One line: each gate's outcome."""
    if verification.level == "off":
        return "verification off (PETSAGE_VERIFY=off)"
    shown = ", ".join(f"{g.gate} {'ok' if g.ok else 'FAILED'}" for g in verification.gates)
    return f"{verification.level}: {shown}"


def verification_section(verification: Verification | None) -> list[str]:
    """The report's section: gates with figures and reasons, the requirement map, the diff."""
    if verification is None:
        return []
    lines = ["#### **Verification**", "", f"- **Gates:** {verification_summary(verification)}"]
    for gate in verification.gates:
        figures = ", ".join(f"{k} {v}" for k, v in gate.figures.items() if v != "")
        lines.append(f"- **{gate.gate}:** {'passed' if gate.ok else 'failed'} ({figures})")
        lines += [f"  - {reason}" for reason in gate.reasons[:20]]
    if verification.not_exercising:
        lines.append(
            "- **Does not exercise the feature** (passes unwired): "
            + ", ".join(f"`{name}`" for name in verification.not_exercising)
        )
    if verification.requirements:
        lines += ["", "| requirement | tests (with feature / unwired) |", "| --- | --- |"]
        for row in verification.requirements:
            tests = "; ".join(f"`{name}` {row.results.get(name, '')}" for name in row.tests)
            flag = "" if row.fails_unwired else " **(no test fails unwired)**"
            lines.append(f"| {row.requirement}{flag} | {tests or '**none**'} |")
    if verification.contract is not None:
        lines += ["", "API contract (base → branch):", "", "```diff"]
        lines += contract.render(verification.contract)
        lines += ["```"]
    return [*lines, ""]
