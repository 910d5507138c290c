import sys
from pathlib import Path

import pytest

from agent.box.run import run_tests, scrubbed_environment

CONFTEST = "import pytest\n"


def suite(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_things.py").write_text(body)
    return root


def test_results_are_read_per_test(tmp_path: Path) -> None:
    root = suite(
        tmp_path,
        "import pytest\n"
        "def test_ok():\n    assert 1 == 1\n"
        "def test_bad():\n    assert 1 == 2, 'one is not two'\n"
        "@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n",
    )
    report = run_tests(root, python=Path(sys.executable), timeout=60)
    assert report.returncode == 1
    assert report.passed == 1 and report.failed == 1 and report.count("skipped") == 1
    assert not report.ok
    assert report.ran_under("tests.test_things.") == 3
    summary = report.failure_summary()
    assert "tests.test_things.test_bad: failed" in summary
    assert "one is not two" in summary
    assert not (root / ".pytest_cache").exists()
    assert not list(root.rglob("__pycache__"))


def test_a_passing_suite_is_ok(tmp_path: Path) -> None:
    report = run_tests(
        suite(tmp_path, "def test_ok():\n    assert True\n"),
        python=Path(sys.executable),
        timeout=60,
    )
    assert report.ok and report.passed == 1


def test_a_suite_that_does_not_import_counts_as_an_error(tmp_path: Path) -> None:
    report = run_tests(
        suite(tmp_path, "import not_a_module_anywhere\n"), python=Path(sys.executable), timeout=60
    )
    assert not report.ok
    assert report.failed >= 1
    assert "not_a_module_anywhere" in report.failure_summary()


def test_a_run_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    body = (
        "import os, time\n"
        "def test_hangs():\n"
        "    if os.fork() == 0:\n"
        f"        time.sleep(3)\n        open({str(marker)!r}, 'w').close()\n        os._exit(0)\n"
        "    time.sleep(60)\n"
    )
    report = run_tests(suite(tmp_path, body), python=Path(sys.executable), timeout=2)
    assert report.timed_out and not report.ok
    assert report.seconds < 30
    import time

    time.sleep(3.5)
    assert not marker.exists(), "the forked child outlived the run"


def test_the_environment_has_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("PETSAGE_FORGE_TOKEN", "ghp-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    env = scrubbed_environment(tmp_path)
    assert not any("secret" in value for value in env.values())
    body = "import os\ndef test_env():\n    assert 'OPENAI_API_KEY' not in os.environ\n    assert not any('secret' in v for v in os.environ.values())\n"
    assert run_tests(suite(tmp_path, body), python=Path(sys.executable), timeout=60).ok


def test_a_stranger_config_above_the_worktree_is_never_used(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--definitely-not-an-option"\n'
    )
    root = suite(tmp_path, "def test_ok():\n    assert True\n")
    report = run_tests(root, python=Path(sys.executable), timeout=60)
    assert report.ok, report.output


def test_the_targets_own_config_is_used(tmp_path: Path) -> None:
    """Its markers and options hold; a test its options deselect is one the checkout defines
    and the run never reported, which fails the run (the builder's count, not pytest's)."""
    marked = "import pytest\n@pytest.mark.slow\ndef test_ok():\n    assert True\n"
    root = suite(tmp_path, marked)
    (root / "pytest.ini").write_text("[pytest]\nmarkers = slow\naddopts = --strict-markers\n")
    report = run_tests(root, python=Path(sys.executable), timeout=60)
    assert report.ok, (report.breaches, report.output)
    assert [case.nodeid for case in report.cases] == ["tests.test_things.test_ok"]
    (root / "pytest.ini").write_text("[pytest]\naddopts = -k ok\n")
    (root / "tests" / "test_other.py").write_text("def test_deselected():\n    assert False\n")
    report = run_tests(root, python=Path(sys.executable), timeout=60)
    assert not report.ok
    assert any("test_other.py::test_deselected" in b for b in report.breaches), report.breaches


def test_a_released_run_and_an_abandoned_one(tmp_path: Path) -> None:
    from agent.box.run import start_tests

    root = suite(tmp_path, "def test_ok():\n    assert True\n")
    with start_tests(root, python=Path(sys.executable), timeout=60) as run:
        (root / "tests" / "test_late.py").write_text(
            "def test_written_after_start():\n    assert True\n"
        )
        run.release()
        report = run.wait()
    assert report.ok and report.passed == 2
    with start_tests(root, python=Path(sys.executable), timeout=60) as run:
        process = run._process
    assert process.poll() is not None


def test_a_stop_request_ends_a_run_long_before_its_timeout(tmp_path: Path) -> None:
    import time

    from agent.box.run import start_tests

    body = "import time\ndef test_hangs():\n    time.sleep(60)\n"
    began = time.monotonic()
    with start_tests(suite(tmp_path, body), python=Path(sys.executable), timeout=60) as run:
        run.release()
        report = run.wait(should_stop=lambda: time.monotonic() - began > 1.0)
    assert not report.ok and not report.timed_out
    assert time.monotonic() - began < 10


def test_the_run_ends_without_a_last_garbage_collection(tmp_path: Path) -> None:
    """Once the results are written, the gate plugin freezes the collector: the interpreter's
    last collection (a walk over everything pytest and the app made) is skipped. Tests ran with
    it as usual."""
    root = suite(
        tmp_path,
        "import gc\ndef test_collector_runs_during_tests():\n"
        "    assert gc.isenabled() and gc.get_freeze_count() == 0\n",
    )
    (root / "tests" / "conftest.py").write_text(
        "import atexit, gc\n"
        "atexit.register(lambda: print(f'FROZEN-AT-EXIT {gc.get_freeze_count() > 0}'))\n"
    )
    report = run_tests(root, python=Path(sys.executable), timeout=60)
    assert report.ok and report.passed == 1, report.output
    assert "FROZEN-AT-EXIT True" in report.output
