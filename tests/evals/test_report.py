"""The Markdown table, the PNG chart and `--compare` of two runs."""

import struct
import zlib
from datetime import UTC, datetime

from agent.evals.chart import PASS, TRACK, pass_rate_chart
from agent.evals.compare import compare
from agent.evals.compare import markdown as compared
from agent.evals.report import markdown
from agent.evals.scoring import EvalRun, TaskResult, totals_of
from tests.evals.test_scoring import row


def run_of(model: str, results: list[TaskResult]) -> EvalRun:
    return EvalRun(
        model=model,
        suite="builtin",
        prompt_version="7",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        results=results,
        totals=totals_of(results, 1),
    )


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of a PNG written with filter 0 (as the chart's are)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, {}
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        at += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = width * 3 + 1
    rows = [raw[r * stride + 1 : (r + 1) * stride] for r in range(height)]
    assert all(raw[r * stride] == 0 for r in range(height))
    return width, height, rows


def test_the_table_has_a_row_per_task_and_the_totals() -> None:
    run = run_of(
        "offline",
        [
            row("status_smoke", "passed", rounds=1, stop_reason="passed", gates={"unwired": True}),
            row("filter_by_query", "refused", stop_reason="rejected", reasons=["needs a model"]),
        ],
    )
    text = markdown(run)
    assert "| status_smoke | fields | offline | ✅ passed | 1 |" in text
    assert "| filter_by_query | fields | offline | ⛔ refused | 0 |" in text
    assert "**pass@1 0.50**: 1 of 2 tasks passed, 1 refused, 0 failed" in text
    assert "Stop reasons: passed 1, rejected 1." in text
    assert "Refused with: needs a model" in text


def test_the_chart_draws_each_category_bar_as_long_as_its_pass_rate() -> None:
    run = run_of(
        "offline",
        [row("a", "passed", category="all"), row("b", "failed", category="none")],
    )
    width, height, rows = decode_png(pass_rate_chart(run))
    assert width > 400 and height > 60

    def greens(y: int) -> int:
        line = rows[y]
        return sum(1 for x in range(width) if tuple(line[x * 3 : x * 3 + 3]) == PASS)

    def tracks(y: int) -> int:
        line = rows[y]
        return sum(1 for x in range(width) if tuple(line[x * 3 : x * 3 + 3]) == TRACK)

    bar_rows = [y for y in range(height) if greens(y) or tracks(y)]
    full = [y for y in bar_rows if greens(y) > 300]
    empty = [y for y in bar_rows if tracks(y) > 300 and greens(y) == 0]
    assert full and empty and max(full) < min(empty)  # "all" is drawn above "none"
    text_pixels = sum(line.count(bytes([33, 37, 41])) for line in rows)
    assert text_pixels > 100  # the labels are drawn


def test_compare_names_what_got_better_and_worse() -> None:
    old = run_of("openai:a", [row("x", "failed"), row("y", "passed"), row("gone", "passed")])
    new = run_of(
        "openai:b",
        [row("x", "passed"), row("y", "failed", stop_reason="no_progress"), row("new", "refused")],
    )
    comparison = compare(old, new)
    assert comparison.better == ["x: failed → passed"]
    assert comparison.worse == ["y: passed → failed"]
    assert comparison.added == ["new"] and comparison.removed == ["gone"]
    assert comparison.totals["pass_at_1"] == (round(2 / 3, 4), round(1 / 3, 4))
    text = compared(comparison)
    assert "- **Better** (1): x: failed → passed" in text
    assert "| pass_at_1 | 0.6667 | 0.3333 | -0.3334 |" in text
