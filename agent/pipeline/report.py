"""The Markdown build report, laid out like the seed: BUILD COMMENCED ... BUILD COMPLETE.

Its file sections use the seed's `**File:**` form, so a report fed back as a model's reply parses.
The builder's own facts (status, test counts, sandbox, commit) come first, rendered from the
result; everything a model or a requester wrote is quoted (`agent.quoting`), never
interpreted.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from agent.box.sandbox import UNSANDBOXED_NOTE
from agent.layout import FeatureLayout
from agent.pipeline.result import BuildResult
from agent.pipeline.verify.render import verification_section
from agent.quoting import code_span, fence, inline, quoted
from agent.request import FeatureRequest

_RULE = "\n---\n"


def rendered(
    result: BuildResult, *, repo_name: str = "petsage_backend", wiring: str = ""
) -> BuildResult:
    """The result with its report rendered from what it holds now."""
    result.report = render_report(result, repo_name=repo_name, wiring=wiring)
    return result


def render_report(
    result: BuildResult, *, repo_name: str = "petsage_backend", wiring: str = ""
) -> str:
    """The whole report of `result`; `wiring` is the patch of `src/main.py`, if any."""
    parts = ["### **BUILD COMMENCED**", "", *facts(result), ""]
    if result.request is not None:
        parts += [*request_lines(result.request), ""]
    parts.append(
        f"Build {code_span(result.id)} · model {code_span(result.model)} · "
        f"{len(result.rounds)} round(s) · base {code_span(result.base_branch or 'main')}"
    )
    if result.summary.strip():
        parts += ["", "Summary (written by the model):", "", *quoted(result.summary, 1500)]
    files = {f.path: f.content for f in (result.attempt.files if result.attempt else [])}
    if result.feature and files:
        layout = FeatureLayout(result.feature)
        parts += [
            _RULE,
            "#### **1. File Structure**",
            "",
            fence(_tree(repo_name, [*files, "src/main.py"])),
        ]
        models = [p for p in files if p == layout.models_path]
        source = [
            p for p in files if p.startswith(layout.src_dir + "/") and p not in models and files[p]
        ]
        tests = [p for p in files if p.startswith(layout.tests_dir + "/") and files[p]]
        parts += [
            _RULE,
            f"#### **2. Pydantic Models (`{PurePosixPath(layout.models_path).name}`)**",
            "",
        ]
        parts += _file_blocks(models, files)
        parts += [
            _RULE,
            f"#### **3. FastAPI Router (`{PurePosixPath(layout.router_path).name}`)**",
            "",
        ]
        parts += _file_blocks(source, files)
        parts += [_RULE, "#### **4. Orchestration Pipeline Integration**", ""]
        parts += _integration(layout, wiring)
        parts += [
            _RULE,
            f"#### **5. Unit & Integration Tests (`{PurePosixPath(layout.test_path).name}`)**",
            "",
        ]
        parts += _file_blocks(tests, files)
        parts += [_tests_line(result), ""]
    parts += [_RULE, "#### **6. Build**", "", *_build_lines(result)]
    if result.verification is not None:
        parts += [_RULE, *verification_section(result.verification)]
    parts += [_RULE, *_closing(result)]
    return "\n".join(parts).rstrip() + "\n"


def _tree(root: str, paths: list[str]) -> str:
    tree: dict[str, dict] = {}  # type: ignore[type-arg]
    for path in sorted(set(paths)):
        node = tree
        for part in PurePosixPath(path).parts:
            node = node.setdefault(part, {})
    lines = [".", f"└── {root}/"]

    def walk(node: dict, prefix: str) -> None:  # type: ignore[type-arg]
        entries = sorted(node.items(), key=lambda item: (not item[1], item[0]))
        for index, (name, child) in enumerate(entries):
            last = index == len(entries) - 1
            label = f"{name}/" if child else name
            if name == "main.py" and prefix.count("│") + prefix.count(" ") <= 8:
                label += "  (integration point, wired by the builder)"
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            if child:
                walk(child, prefix + ("    " if last else "│   "))

    walk(tree, "    ")
    return "\n".join(lines)


def _file_blocks(paths: list[str], files: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for path in paths:
        lines += [f"**File:** {code_span(path)}", fence(files[path], "python"), ""]
    return lines


def _integration(layout: FeatureLayout, wiring: str) -> list[str]:
    if not wiring.strip():
        return [f"`src/main.py` already includes `{layout.router_alias}`; nothing to change.", ""]
    return [
        "The builder wired the router into `src/main.py` (a syntax-tree edit, never a second "
        "`include_router`):",
        "",
        fence(wiring, "diff"),
        "",
    ]


def facts(result: BuildResult) -> list[str]:
    """The builder's own account of a build, from the result alone: status, tests, sandbox."""
    tests = result.tests
    counted = (
        f"{tests.passed} passed, {tests.failed} failed, {tests.skipped} skipped "
        f"({tests.feature_tests} of the feature)"
        if tests.total
        else "not run"
    )
    where = (
        f"{code_span(result.branch)} at {code_span(result.commit)}"
        if result.branch and result.commit
        else "none"
    )
    sandbox = (
        f"**NOT sandboxed**: {UNSANDBOXED_NOTE}"
        if UNSANDBOXED_NOTE in result.notes
        else "generated code ran in the sandbox"
        if tests.total
        else "no generated code ran"
    )
    return [
        f"- **Status:** {result.status}",
        f"- **Tests:** {counted}",
        f"- **Sandbox:** {sandbox}",
        f"- **Commit:** {where}",
    ]


def request_lines(request: FeatureRequest) -> list[str]:
    """The request, its requester's words quoted as literal text."""
    lines = [
        "**Feature Request:**",
        f"- **Feature:** {code_span(request.feature)}",
        "- **Description:**",
        "",
        *quoted(request.description, 4000),
        "",
        "- **Requirements:**",
        "",
        *quoted(request.requirements_text, 8000, max_lines=80),
    ]
    if request.base_branch != "main":
        lines += ["", f"- **Base branch:** {code_span(request.base_branch)}"]
    return lines


def _tests_line(result: BuildResult) -> str:
    tests = result.tests
    if tests.total == 0:
        return "Tests: not run."
    return (
        f"Tests: **{tests.passed} passed, {tests.failed} failed**"
        f"{f', {tests.skipped} skipped' if tests.skipped else ''} in {tests.seconds:.2f} s "
        f"({tests.feature_tests} of them the feature's own)."
    )


def _build_lines(result: BuildResult) -> list[str]:
    lines = [f"- **Status:** {result.status}"]
    if result.reason is not None:
        lines.append(f"- **Why:** {why_line(result)}")  # the builder's own words and figures
    if result.branch:
        at = f" at `{result.commit[:12]}`" if result.commit else " (unchanged)"
        lines.append(f"- **Branch:** {code_span(result.branch)}{at}")
    lines.append(
        f"- **Model:** {code_span(result.model)}, {result.model_round_trips} round trip(s), "
        f"{result.prompt_tokens} prompt + {result.completion_tokens} completion tokens"
        + (f", about ${result.cost_usd:.4f}" if result.cost_usd is not None else "")
    )
    for record in result.rounds:
        why = f": {inline('; '.join(record.reasons[:3]))}" if record.reasons else ""
        lines.append(f"  - round {record.round}: {record.outcome}{why}")
    if result.timings:
        shown = ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in result.timings.items())
        lines.append(f"- **Timings:** {shown}; total {result.seconds:.2f} s")
    if result.pull_request is not None:
        pull = result.pull_request
        where = code_span(pull.url) if pull.url else f"local PR {code_span(pull.id)}"
        lines.append(f"- **Pull request:** {where} ({'updated' if pull.updated else 'opened'})")
    if result.pr_error:
        lines.append(f"- **Pull request failed:** {inline(result.pr_error)}")
    if result.notes:
        notes = "\n".join(" ".join(note.split())[:300] for note in result.notes[:20])
        lines += ["", "Notes (the model's and the builder's, quoted):", "", *quoted(notes, 6000)]
    return lines


def why_line(result: BuildResult) -> str:
    """What ended a build that did not succeed, in one line: its kind, stage, limit and figure."""
    reason = result.reason
    if reason is None:
        return ""
    line = f"{reason.kind} at `{reason.stage}`"
    if reason.limit is not None:
        figure = "?" if reason.figure is None else f"{reason.figure:g}"
        budget = "" if reason.budget is None else f" of {reason.budget:g}"
        line += f": {reason.limit} {figure}{budget}"
    if reason.retried:
        line += " (after one retry)"
    if reason.kind == "infrastructure":
        line += "; the machine was too busy, not the feature's fault: post it again"
    return line


def _closing(result: BuildResult) -> list[str]:
    if result.status == "succeeded":
        return [
            "### **BUILD COMPLETE**",
            "",
            f"The {code_span(result.feature or '')} feature is committed on "
            f"{code_span(result.branch or '')} "
            "with its tests passing.",
        ]
    title = "BUILD REJECTED" if result.status == "rejected" else "BUILD FAILED"
    lines = [f"### **{title}**", ""]
    lines += [f"- {inline(reason)}" for reason in result.reasons[:20]] or ["- (no reason recorded)"]
    lines += ["", "No branch was changed."]
    return lines
