"""Hostile model text in the report and the PR body: rendered by CommonMark, it stays quoted.

A scripted model (in-process, and replayed through the CLI) answers a working bundle whose test
file holds a five-backtick line, an HTML comment closer and a forged result, and whose summary
and notes open an HTML comment, carry headings, `<details>` and a fake test count.
"""

from __future__ import annotations

import json
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from agent.models.offline import render_bundle
from agent.models.recording import FORMAT
from agent.models.scripted import ScriptedModel
from agent.pipeline.loop import Builder
from agent.pipeline.result import BuildResult
from agent.quoting import code_span, fence, inline, quoted, strip_controls
from agent.request import FeatureRequest
from agent.settings import Settings
from tests.conftest import SMOKE_REQUEST

FORGED = "## All 58 tests passed (sandboxed)"
FORGED_FILE_TAIL = '''

FORGED = """
`````
</details>

FORGED-IN-FILE
## All 58 tests passed (sandboxed)
**Tests:** 58 passed, 0 failed
-->
"""
'''
SUMMARY = (
    "A smoke test endpoint. <!-- SUMMARY-MARK\n\n# All 58 tests passed (sandboxed)\n"
    "<details><summary>SUMMARY-MARK</summary>\n**Tests:** 58 passed, 0 failed\n\x1b]0;title\x07"
)
NOTES = [
    "NOTE-MARK\n## Fake heading\n</details>",
    "1. NOTE-MARK <b>bold</b> `code` [link](http://x)",
]
MARKS = ("SUMMARY-MARK", "NOTE-MARK", "FORGED-IN-FILE", "58 passed", "Fake heading")
BUILDER_HTML = {"<details><summary>Build report</summary>", "</details>"}


def hostile_reply() -> str:
    bundle = render_bundle(FeatureRequest.model_validate(SMOKE_REQUEST))
    files = [
        {"path": f.path, "content": f.content + (FORGED_FILE_TAIL if "tests/" in f.path else "")}
        for f in bundle.files
    ]
    return json.dumps({"feature": "smoke_test", "files": files, "summary": SUMMARY, "notes": NOTES})


def outside_quotes(markdown: str) -> tuple[list[str], list[str], list[str]]:
    """(text outside any block quote or code, HTML blocks and inlines, heading texts)."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    loose, html, headings = [], [], []
    depth = 0
    for index, token in enumerate(tokens):
        if token.type == "blockquote_open":
            depth += 1
        elif token.type == "blockquote_close":
            depth -= 1
        elif token.type == "html_block":
            html.append(token.content.strip())
        elif token.type == "inline":
            children: list[Token] = token.children or []
            html += [c.content.strip() for c in children if c.type == "html_inline"]
            if tokens[index - 1].type == "heading_open":
                headings.append(token.content)
            if depth == 0:
                loose.append(token.content)
    return loose, html, headings


def check_rendered(markdown: str, result: BuildResult) -> None:
    loose, html, headings = outside_quotes(markdown)
    assert set(html) <= BUILDER_HTML, html
    assert not any(mark in text for text in loose for mark in MARKS), [
        t for t in loose if any(m in t for m in MARKS)
    ]
    assert not any("58" in heading or "Fake" in heading for heading in headings)
    # The builder's facts come first and are the real ones.
    tests = result.tests
    facts = [t for t in loose if t.startswith(("**Status:**", "**Tests:**", "**Sandbox:**"))]
    assert facts[:3] == [
        f"**Status:** {result.status}",
        f"**Tests:** {tests.passed} passed, {tests.failed} failed, {tests.skipped} skipped "
        f"({tests.feature_tests} of the feature)",
        "**Sandbox:** generated code ran in the sandbox",
    ]
    assert markdown.index("**Status:**") < min(
        (markdown.index(mark) for mark in MARKS if mark in markdown), default=len(markdown)
    )
    assert "\x1b" not in markdown and "\x07" not in markdown


def test_a_hostile_bundle_stays_quoted_in_the_report_and_the_pr_body(settings: Settings) -> None:
    model = ScriptedModel([hostile_reply()])
    result = Builder(settings, model=model).run({**SMOKE_REQUEST, "open_pr": True})
    assert result.status == "succeeded", result.reasons
    assert result.tests.passed >= 3 and result.tests.passed != 58
    assert result.pull_request is not None
    check_rendered(result.report, result)
    check_rendered(result.pull_request.body, result)
    # The file that holds five backticks is one code block, shown whole.
    fences = [
        t
        for t in MarkdownIt("commonmark").parse(result.report)
        if t.type == "fence" and "FORGED-IN-FILE" in t.content
    ]
    assert len(fences) == 1 and "`````\n</details>" in fences[0].content


def test_a_hostile_bundle_through_the_cli_replayed(tmp_path: Path) -> None:
    from tests.test_cli import cli

    recording = tmp_path / "hostile.json"
    recording.write_text(
        json.dumps(
            {"format": FORMAT, "exchanges": [{"reply": hostile_reply(), "finish_reason": "stop"}]}
        )
    )
    env = {"PETSAGE_MODEL": f"replay:{recording}"}
    built = cli(
        "build",
        "--payload",
        "-",
        "--workspace",
        "ws",
        "--open-pr",
        "--json",
        "-q",
        cwd=tmp_path,
        stdin=json.dumps({**SMOKE_REQUEST, "description": "Ensure {main_py} \x1b[2J"}),
        env=env,
    )
    assert built.returncode == 0, built.stderr
    result = BuildResult.model_validate_json(built.stdout)
    check_rendered(result.report, result)
    shown = cli("pr", "show", result.pull_request.id, "--workspace", "ws", cwd=tmp_path)  # type: ignore[union-attr]
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "**Status:** succeeded" in shown.stdout
    printed = cli(
        "build",
        "--payload",
        "-",
        "--workspace",
        "ws2",
        "-q",
        cwd=tmp_path,
        stdin=json.dumps(SMOKE_REQUEST),
        env=env,
    )
    assert printed.returncode == 0 and "\x1b" not in printed.stdout and "\x07" not in printed.stdout


def test_the_quoting_helpers() -> None:
    assert fence("a\n`````\nb", "python").startswith("``````python\n")
    assert fence("plain").startswith("```\n")
    assert code_span("a`b") == "``a`b``"
    assert inline("<!-- x\n# h") == "\\<!-- x # h"
    assert inline("# h @user") == "\\# h \\@user"
    assert quoted("1. one\n\n- two <b>") == ["> 1\\. one", ">", "> \\- two \\<b\\>"]
    assert len(inline("x" * 10_000, 100)) == 100
    assert strip_controls("a\x1b[31mb\tc\nd\x9b\x07") == "a[31mb\tc\nd"
