"""The pipeline end to end: real git, real subprocess pytest, the offline and scripted models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.bundle import FileBundle, parse_reply
from agent.errors import ModelError
from agent.events import StageEvent
from agent.models.scripted import ScriptedModel
from agent.pipeline.loop import Builder
from agent.prompt_files import skeleton_files
from agent.settings import Settings
from tests.box.test_budget import top_priority
from tests.conftest import (
    ONE_ROUND_STAGES,
    SEED_TEXT,
    SMOKE_REQUEST,
    branch_files,
    git,
    refs,
    with_file,
)

ROUTER = "src/features/smoke_test/smoke_test_router.py"
TESTS = "tests/features/smoke_test/test_smoke_test.py"
PETS = {
    "feature": "pet_profile",
    "description": "Keep a profile for every pet\nwith more detail below",
    "requirements": {
        "fields": [
            {
                "name": "name",
                "type": "str",
                "min_length": 1,
                "max_length": 40,
                "description": "Call name",
            },
            {"name": "age", "type": "int", "ge": 0, "le": 40},
            {"name": "weight_kg", "type": "float", "required": False, "ge": 0.5, "le": 90},
            {"name": "species", "type": "enum", "choices": ["dog", "cat", "bird"]},
            {"name": "vaccinated", "type": "bool"},
            {"name": "born", "type": "date", "required": False},
            {"name": "last_visit", "type": "datetime", "required": False},
        ]
    },
}


def seed_bundle() -> FileBundle:
    return parse_reply(SEED_TEXT, "smoke_test")


def failing_tests_bundle() -> FileBundle:
    content = seed_bundle().get(TESTS)
    assert content is not None
    broken = content.content.replace('== "PetSage Backend is operational."', '== "Something else."')
    return with_file(seed_bundle(), TESTS, broken)


def assert_untouched(settings: Settings, before: dict[str, str]) -> None:
    """Refs as they were, the target's checkout clean, no worktree left behind."""
    assert refs(settings.workspace) == before
    assert git(settings.workspace, "status", "--porcelain") == ""
    assert git(settings.workspace, "worktree", "list").count("\n") == 1
    worktrees = settings.resolved_state_dir() / "worktrees"
    assert not worktrees.exists() or list(worktrees.iterdir()) == []


def test_the_seed_request_builds_the_seed_files_and_they_answer_as_its_tests_say(
    settings: Settings, tmp_path: Path
) -> None:
    events: list[StageEvent] = []
    result = Builder(settings).run(SEED_TEXT, on_event=events.append)
    assert result.status == "succeeded", result.reasons
    workspace = settings.workspace
    assert git(workspace, "rev-parse", "feature/smoke_test").strip() == result.commit
    files = branch_files(workspace, "feature/smoke_test")
    seed = {f.path: f.content for f in seed_bundle().files}
    added = set(files) - set(skeleton_files())
    assert added == set(seed) | {
        "src/features/smoke_test/__init__.py",
        "tests/features/smoke_test/__init__.py",
    }
    for path, content in seed.items():
        assert files[path] == content
    assert (
        "app.include_router(smoke_test_router.router, prefix=API_V1_PREFIX)" in files["src/main.py"]
    )
    assert (
        git(workspace, "log", "-1", "--format=%s", "feature/smoke_test").strip()
        == "feat(smoke_test): Ensure builder functional"
    )
    body = git(workspace, "log", "-1", "--format=%b", "feature/smoke_test")
    assert (
        "- src/features/smoke_test/smoke_test_router.py" in body
        and "Tests: 3 passed, 0 failed" in body
    )
    assert result.tests.passed == 3 and result.tests.failed == 0 and result.tests.feature_tests == 2
    assert [e.stage for e in events] == ONE_ROUND_STAGES
    assert git(workspace, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(workspace, "status", "--porcelain") == ""
    # The endpoint answers as the seed's tests say, from a plain checkout of the branch.
    checkout = tmp_path / "checkout"
    git(workspace, "worktree", "add", "-q", str(checkout), "feature/smoke_test")
    probe = (
        "from fastapi.testclient import TestClient\nfrom src.main import app\nc = TestClient(app)\n"
        "r = c.get('/api/v1/smoke-test')\nprint(r.status_code, r.json())\n"
        "print([c.post('/api/v1/smoke-test').status_code, c.put('/api/v1/smoke-test').status_code, c.delete('/api/v1/smoke-test').status_code])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "200 {'status': 'ok', 'message': 'PetSage Backend is operational.'}",
        "[405, 405, 405]",
    ]
    assert "### **BUILD COMMENCED**" in result.report and "### **BUILD COMPLETE**" in result.report


def test_the_seeds_whole_text_as_a_model_reply_builds(settings: Settings) -> None:
    model = ScriptedModel([SEED_TEXT])
    result = Builder(settings, model=model).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    assert any("src/main.py" in note for note in result.notes)
    assert result.model_round_trips == 1
    model.assert_consumed()
    assert model.calls[0].context.features == ()
    assert "app = FastAPI(" in model.calls[0].context.main_py
    assert "smoke_test_router" not in model.calls[0].context.main_py


def test_a_resource_feature_with_every_type_and_rule_builds(settings: Settings) -> None:
    result = Builder(settings).run(json.dumps(PETS))
    assert result.status == "succeeded", result.reasons
    assert result.tests.failed == 0
    assert result.tests.feature_tests >= 40
    files = branch_files(settings.workspace, "feature/pet_profile")
    assert "src/features/pet_profile/pet_profile_table.py" in files
    assert "src/features/pet_profile/pet_profile_repository.py" in files
    assert "migrations/versions/pet_profile_001.py" in files
    assert "import src.features.pet_profile.pet_profile_table" in files["src/tables.py"]
    assert (
        git(settings.workspace, "log", "-1", "--format=%s", "feature/pet_profile").strip()
        == "feat(pet_profile): Keep a profile for every pet"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "{broken",
        "no labels here",
        {"feature": "Bad"},
        {"feature": "main", "description": "d"},
        {"feature": "pets", "description": ""},
        {"feature": "pets", "description": "d", "requirements": 3},
        {
            "feature": "pets",
            "description": "d",
            "requirements": {"fields": [{"name": "x1", "type": "blob"}]},
        },
        {"feature": "pets", "description": "d", "extra": True},
        {"feature": "pets", "description": "d", "base_branch": "-x"},
        {"payload": "%%%"},
        {"feature": "vet_visits", "description": "d", "requirements": "Please track vet visits."},
    ],
)
def test_bad_requests_are_rejected_and_nothing_is_written(settings: Settings, raw: object) -> None:
    result = Builder(settings).run(raw)  # type: ignore[arg-type]
    assert result.status == "rejected"
    assert result.reasons and all(reason for reason in result.reasons)
    assert not settings.workspace.exists()
    assert not settings.resolved_state_dir().exists()
    assert result.commit is None


def test_a_missing_base_branch_is_rejected(settings: Settings) -> None:
    result = Builder(settings).run({**SMOKE_REQUEST, "base_branch": "develop"})
    assert result.status == "rejected"
    assert "base_branch" in result.reasons[0]
    assert not settings.workspace.exists()
    Builder(settings).run(SMOKE_REQUEST)
    before = refs(settings.workspace)
    again = Builder(settings).run(
        {**SMOKE_REQUEST, "feature": "other_one", "base_branch": "develop"}
    )
    assert again.status == "rejected" and "'develop' does not exist" in again.reasons[0]
    assert_untouched(settings, before)


def _hostile(kind: str) -> FileBundle:
    bundle = seed_bundle()
    router = bundle.get(ROUTER)
    assert router is not None
    if kind == "traversal":
        return with_file(bundle, "src/features/smoke_test/../../../evil.py", "x = 1\n")
    if kind == "absolute":
        return with_file(bundle, "/tmp/evil.py", "x = 1\n")
    if kind == "other folder":
        return with_file(bundle, "src/features/other/evil.py", "x = 1\n")
    if kind == "missing module":
        return with_file(bundle, TESTS, None)
    if kind == "syntax error":
        return with_file(bundle, ROUTER, router.content + "\ndef broken(:\n")
    if kind == "no router":
        return with_file(
            bundle, ROUTER, router.content.replace("router = APIRouter(", "other = APIRouter(")
        )
    if kind == "dangerous call":
        return with_file(
            bundle, ROUTER, router.content + "\nimport os\nos.system('touch /tmp/pwned')\n"
        )
    if kind == "oversize":
        return with_file(bundle, "src/features/smoke_test/huge.py", "x = 1\n" * 50_000)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("traversal", "`..` in path"),
        ("absolute", "absolute path"),
        ("other folder", "outside the feature's folders"),
        ("missing module", "missing: the test module is required"),
        ("syntax error", "does not parse as Python"),
        ("no router", "defines no module-level `router = APIRouter"),
        ("dangerous call", "uses `os.system`"),
        ("oversize", "bytes, at most 204800"),
    ],
)
def test_bad_bundles_are_refused_with_their_reason_and_nothing_is_written(
    settings: Settings, kind: str, reason: str
) -> None:
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    bad = _hostile(kind)
    model = ScriptedModel([bad, bad])
    # The same reply twice would stop as `repeated_reply` (tests/pipeline/test_budget.py).
    no_stall = {"max_rounds": 2, "stop_on_stall": False}
    result = Builder(settings.model_copy(update=no_stall), model=model).run(SMOKE_REQUEST)
    assert result.status == "failed"
    assert any(reason in r for r in result.reasons), result.reasons
    assert [r.outcome for r in result.rounds] == ["invalid", "invalid"]
    assert model.calls[1].feedback is not None and any(
        reason in r for r in model.calls[1].feedback.reasons
    )
    assert result.attempt is not None and result.attempt.files
    assert_untouched(settings, before)
    assert not Path("/tmp/evil.py").exists()


def test_failing_tests_then_a_fix_take_two_rounds_and_one_commit(settings: Settings) -> None:
    model = ScriptedModel([failing_tests_bundle(), SEED_TEXT])
    events: list[StageEvent] = []
    result = Builder(settings, model=model).run(SMOKE_REQUEST, on_event=events.append)
    assert result.status == "succeeded", result.reasons
    assert [r.outcome for r in result.rounds] == ["tests_failed", "accepted"]
    feedback = model.calls[1].feedback
    assert feedback is not None and feedback.kind == "tests"
    assert any("test_smoke_test_endpoint_success" in r for r in feedback.reasons)
    assert "Something else." in feedback.details
    assert git(settings.workspace, "rev-list", "--count", "feature/smoke_test").strip() == "2"
    assert [(e.stage, e.ok) for e in events if e.stage == "tested"] == [
        ("tested", False),
        ("tested", True),
    ]
    files = branch_files(settings.workspace, "feature/smoke_test")
    assert files[TESTS] == seed_bundle().get(TESTS).content  # type: ignore[union-attr]


def test_tests_that_always_fail_leave_no_commit(settings: Settings) -> None:
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    model = ScriptedModel([failing_tests_bundle()] * 3)
    no_stall = settings.model_copy(update={"stop_on_stall": False})
    result = Builder(no_stall, model=model).run(SMOKE_REQUEST)
    assert result.status == "failed"
    assert result.reasons[0] == "no passing reply after 3 round(s)"
    assert [r.outcome for r in result.rounds] == ["tests_failed"] * 3
    assert result.reason is not None
    reason = (result.reason.kind, result.reason.stage, result.reason.limit, result.reason.figure)
    assert reason == ("tests", "tested", "max_rounds", 3)  # the feature's, not the machine's
    assert result.commit is None and result.files == []
    assert result.attempt is not None
    assert "Something else." in result.attempt.test_output
    assert "+from src.features.smoke_test import smoke_test_router" in result.attempt.diff
    assert "### **BUILD FAILED**" in result.report
    assert_untouched(settings, before)


def test_building_the_same_feature_twice_adds_one_commit_and_one_include(
    settings: Settings,
) -> None:
    first = Builder(settings).run(SEED_TEXT)
    second = Builder(settings).run({**SMOKE_REQUEST, "description": "Check the builder again"})
    assert first.status == second.status == "succeeded"
    log = git(settings.workspace, "log", "--format=%H %s", "feature/smoke_test").splitlines()
    assert [line.split(" ", 1)[1] for line in log] == [
        "feat(smoke_test): Check the builder again",
        "feat(smoke_test): Ensure builder functional",
        "chore: PetSage backend skeleton",
    ]
    main_py = branch_files(settings.workspace, "feature/smoke_test")["src/main.py"]
    assert main_py.count("app.include_router(smoke_test_router.router") == 1
    assert main_py.count("import smoke_test_router") == 1
    assert "src/main.py" not in second.files
    assert (
        git(settings.workspace, "rev-parse", "main").strip()
        == git(settings.workspace, "rev-list", "--max-parents=0", "main").strip()
    )


def test_a_model_error_fails_the_build_cleanly(settings: Settings) -> None:
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    result = Builder(settings, model=ScriptedModel([ModelError("server said 500")])).run(
        SMOKE_REQUEST
    )
    assert result.status == "failed"
    assert result.reasons == ["server said 500"]
    assert result.rounds[0].outcome == "model_error"
    assert result.reason is not None
    assert (result.reason.kind, result.reason.stage) == ("model", "generating")
    assert_untouched(settings, before)


def test_a_cancelled_build_stops_and_changes_nothing(settings: Settings) -> None:
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    stream = Builder(settings).stream(SMOKE_REQUEST, should_stop=lambda: True)
    stages = []
    try:
        while True:
            stages.append(next(stream).stage)
    except StopIteration as done:
        result = done.value
    assert result.status == "cancelled"
    assert stages[-1] == "failed"
    assert_untouched(settings, before)


def test_the_report_fed_back_as_a_reply_parses_to_the_same_files(settings: Settings) -> None:
    result = Builder(settings).run(json.dumps(PETS))
    bundle = parse_reply(result.report, "pet_profile")
    built = branch_files(settings.workspace, "feature/pet_profile")
    assert bundle.files and all(built[f.path] == f.content for f in bundle.files)


def test_a_workspace_inside_another_project_ignores_that_projects_pytest_config(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--no-such-option"\nfilterwarnings = ["error"]\n'
    )
    settings = Settings(workspace=tmp_path / "generated" / "petsage_backend")
    result = Builder(settings).run(SEED_TEXT)
    assert result.status == "succeeded", result.reasons
    assert settings.resolved_state_dir() == tmp_path / "generated" / ".petsage" / "petsage_backend"


# --- a busy machine (issue 28) -------------------------------------------------------------------


def test_a_ceiling_no_run_can_meet_fails_as_infrastructure_after_one_retry_and_no_repair(
    settings: Settings,
) -> None:
    """A tiny wall-clock limit: the machine's fault, tried twice, never the model's."""
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    before = refs(settings.workspace)
    tight = settings.model_copy(update={"test_wall_seconds": 0.05})
    model = ScriptedModel([SEED_TEXT])
    events: list[StageEvent] = []
    result = Builder(tight, model=model).run(SMOKE_REQUEST, on_event=events.append)
    model.assert_consumed()
    assert result.status == "failed"
    assert result.model_round_trips == 1 and len(model.calls) == 1
    assert [r.outcome for r in result.rounds] == ["infrastructure"]
    reason = result.reason
    assert reason is not None
    assert (reason.kind, reason.stage, reason.limit) == ("infrastructure", "tested", "wall_seconds")
    assert reason.budget == 0.05 and reason.figure is not None and reason.figure >= 0.05
    assert reason.retried
    assert "the machine was too busy" in reason.message
    assert "**Why:** infrastructure at `tested`: wall_seconds" in result.report
    retries = [e for e in events if e.stage == "tested" and not e.ok]
    assert len(retries) == 1
    assert retries[0].to_dict()["data"]["reason"]["retried"] is False
    assert retries[0].to_dict()["data"]["reason"]["limit"] == "wall_seconds"
    final = events[-1]
    assert final.stage == "failed"
    assert final.to_dict()["data"]["reason"]["kind"] == "infrastructure"
    assert_untouched(settings, before)


def test_a_starved_test_run_is_retried_once_and_the_build_succeeds_without_a_repair_round(
    settings: Settings,
) -> None:
    """A CPU hog at the highest priority on the one core the build's boxes may use, while the
    first test run runs: that run passes its wall ceiling having used little CPU; the second
    (the hog gone) passes, and the model was asked once."""
    if os.geteuid() != 0:
        pytest.skip("raising a hog's priority needs root")
    core = min(os.sched_getaffinity(0))
    settings.test_wall_seconds = 3.0
    hogs: list[subprocess.Popen[bytes]] = []
    events: list[StageEvent] = []

    def on_event(event: StageEvent) -> None:
        events.append(event)
        if event.stage == "integrated" and not hogs:  # the files are in: the run starts next
            code = f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True:\n    pass\n"
            hog = [sys.executable, "-c", code]
            hogs.append(subprocess.Popen(hog, start_new_session=True, preexec_fn=top_priority))
        if event.stage == "tested" and not event.ok:  # the retry: the machine is quiet again
            hogs[0].kill()
            settings.test_wall_seconds = 300.0

    model = ScriptedModel([SEED_TEXT])
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})  # every box of the build inherits it
    try:
        result = Builder(settings, model=model).run(SMOKE_REQUEST, on_event=on_event)
    finally:
        os.sched_setaffinity(0, mine)
        for hog in hogs:
            hog.kill()
            hog.wait()
    model.assert_consumed()
    retries = [e for e in events if not e.ok]
    assert len(retries) == 1, [e.message for e in retries]
    reason = retries[0].to_dict()["data"]["reason"]
    if reason["limit"] != "wall_seconds":
        pytest.skip(f"no cgroup counts the box's CPU time here: {reason['message']}")
    assert (reason["kind"], reason["stage"]) == ("infrastructure", "tested")
    assert reason["figure"] >= 3.0 and not reason["retried"]
    assert result.status == "succeeded", result.reasons
    assert result.reason is None
    assert result.model_round_trips == 1 and [r.outcome for r in result.rounds] == ["accepted"]
    assert [e.stage for e in events if e.ok][-2:] == ["committed", "done"]
