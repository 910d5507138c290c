from agent.pipeline.report import render_report
from agent.pipeline.result import Attempt, AttemptFile, BuildResult, RoundRecord, TestCounts
from agent.request import decode_request
from tests.conftest import SEED_TEXT


def test_a_rejected_build_report_says_why() -> None:
    report = render_report(BuildResult(id="b1", status="rejected", reasons=["feature: bad name"]))
    assert report.startswith("### **BUILD COMMENCED**")
    assert "### **BUILD REJECTED**" in report and "- feature: bad name" in report
    assert "No branch was changed." in report


def test_a_successful_report_has_the_seeds_sections_in_order() -> None:
    request = decode_request(SEED_TEXT)
    result = BuildResult(
        id="b2",
        status="succeeded",
        feature="smoke_test",
        request=request,
        branch="feature/smoke_test",
        commit="a" * 40,
        tests=TestCounts(passed=3, total=3, feature_tests=2, seconds=0.5),
        rounds=[RoundRecord(round=1, outcome="accepted")],
        attempt=Attempt(
            round=1,
            files=[
                AttemptFile(
                    path="src/features/smoke_test/smoke_test_models.py", content="class A: ...\n"
                ),
                AttemptFile(
                    path="src/features/smoke_test/smoke_test_router.py", content="router = 1\n"
                ),
                AttemptFile(
                    path="tests/features/smoke_test/test_smoke_test.py",
                    content="def test_a(): ...\n",
                ),
            ],
        ),
    )
    report = render_report(result, wiring="+app.include_router(smoke_test_router.router)\n")
    headings = [
        "### **BUILD COMMENCED**",
        "**Feature Request:**",
        "#### **1. File Structure**",
        "#### **2. Pydantic Models (`smoke_test_models.py`)**",
        "#### **3. FastAPI Router (`smoke_test_router.py`)**",
        "#### **4. Orchestration Pipeline Integration**",
        "#### **5. Unit & Integration Tests (`test_smoke_test.py`)**",
        "#### **6. Build**",
        "### **BUILD COMPLETE**",
    ]
    positions = [report.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert "└── petsage_backend/" in report
    assert "main.py  (integration point, wired by the builder)" in report
    assert "Tests: **3 passed, 0 failed** in 0.50 s (2 of them the feature's own)." in report
    assert "`feature/smoke_test` at `aaaaaaaaaaaa`" in report
