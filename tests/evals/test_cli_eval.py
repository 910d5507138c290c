"""`petsage-builder eval` from the command line: its outputs, its resume, its bad input (exit 2)."""

import json
from pathlib import Path

import pytest

from agent.cli import main
from tests.evals.test_tasks import write_task

FREE_TEXT = {
    "feature": "pet_search",
    "description": "Search pets",
    "requirements": "Answer pets whose name sounds like the query, phonetically.",
}


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A suite made outside the project: one task beyond the offline generator."""
    root = tmp_path / "suite"
    write_task(root, "sounds_like", FREE_TEXT, "def test_x() -> None:\n    assert False\n")
    return root


def test_a_run_prints_json_and_writes_the_table_chart_and_results(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["eval", "--suite", str(suite), "--json", "--out", str(out)]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["format"] == "petsage-eval/1" and run["model"] == "offline"
    (result,) = run["results"]
    assert result["status"] == "refused" and result["refused"] and not result["passed"]
    assert "need a configured model" in result["reasons"][0]
    assert result["stop_reason"] == "rejected"
    assert run["totals"]["refused"] == 1 and run["totals"]["pass_at_1"] == 0.0
    assert json.loads((out / "results.json").read_text())["results"][0]["task"] == "sounds_like"
    assert "| sounds_like | custom | model | ⛔ refused |" in (out / "report.md").read_text()
    assert (out / "chart.png").read_bytes().startswith(b"\x89PNG")


def test_a_second_run_resumes_and_compares_with_the_first(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["eval", "--suite", str(suite), "--out", str(out), "-q"]) == 0
    first = tmp_path / "first.json"
    first.write_text((out / "results.json").read_text())
    capsys.readouterr()
    code = main(["eval", "--suite", str(suite), "--out", str(out), "--compare", str(first)])
    assert code == 0
    captured = capsys.readouterr()
    assert "1/1 sounds_like: refused (cached)" in captured.err
    assert "### Compared with `offline` → `offline`" in captured.out
    assert "- **Better** (0)" in captured.out and "- **Worse** (0)" in captured.out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--attempts", "0"], "--attempts: must be between 1 and 20"),
        (["--jobs", "99"], "--jobs: must be between 1 and 32"),
        (["--suite", "/nonexistent/suite"], "--suite /nonexistent/suite: no such folder"),
        (["--tasks", "zzz*"], "--tasks zzz*: matches no task"),
        (["--compare", "/nonexistent/old.json"], "--compare: cannot read /nonexistent/old.json"),
        (["--model", "replay:/nonexistent/dir"], "no such folder of recordings"),
        (["--model", "nonsense"], "PETSAGE_MODEL='nonsense' is not a model"),
        (["--max-rounds", "0"], "--max-rounds"),
    ],
)
def test_bad_input_exits_2_naming_the_flag(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["eval", "--out", str(out), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_compare_file_that_is_not_a_run_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.json"
    old.write_text('{"hello": 1}')
    assert main(["eval", "--compare", str(old), "--out", str(tmp_path / "out")]) == 2
    assert "is not an eval run's JSON" in capsys.readouterr().err


def test_an_outside_task_that_builds_but_cannot_pass_is_reported_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The offline generator builds it (its own tests pass, its gates too), yet its acceptance
    test asks for what the contract never gives: the run says `failed`, naming the test."""
    root = tmp_path / "suite"
    request = {"feature": "teapot", "description": "Am I a teapot?", "requirements": "none"}
    impossible = (
        "from fastapi.testclient import TestClient\n\n\n"
        "def test_i_am_a_teapot(client: TestClient) -> None:\n"
        "    assert client.get('/api/v1/teapot').status_code == 418\n"
    )
    write_task(root, "teapot", request, impossible, {"reach": "offline", "category": "status"})
    out = tmp_path / "out"
    assert main(["eval", "--suite", str(root), "--json", "--out", str(out), "-q"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["build_status"] == "succeeded" and result["stop_reason"] == "passed"
    assert result["status"] == "failed" and not result["passed"]
    assert result["acceptance"] == {"passed": 0, "failed": 1, "total": 1}
    assert "teapot.test_teapot.test_i_am_a_teapot" in result["reasons"][0]
