import logging
import sqlite3
import time
from pathlib import Path

import pytest

from agent.errors import StateLocked
from agent.events import Failed
from agent.pipeline.result import BuildResult
from agent.redact import install_log_redaction, redact
from agent.request import FeatureRequest
from agent.store import statelock
from agent.store.builds import BuildStore

SECRET = "ghp_s3cret"
URL = f"https://x-access-token:{SECRET}@github.com/owner/repo.git"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            f"fatal: cannot push to {URL}",
            "fatal: cannot push to https://***@github.com/owner/repo.git",
        ),
        (
            f"cmdline: git push {URL} main",
            "cmdline: git push https://***@github.com/owner/repo.git main",
        ),
        (f"GET /events?access_token={SECRET}&x=1", "GET /events?access_token=***&x=1"),
        (f"open /?token={SECRET}", "open /?token=***"),
        ("postgresql://builder:pw@db:5432/petsage", "postgresql://***@db:5432/petsage"),
        ('{"a":"git://","e":"a@b"}', '{"a":"git://","e":"a@b"}'),
        ("mail me at a@b.example", "mail me at a@b.example"),
    ],
)
def test_redact_removes_url_credentials_only(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_is_linear_on_hostile_text() -> None:
    started = time.perf_counter()
    redact("a://" * 100_000 + "x" * 100_000)
    redact("?token=" * 50_000)
    assert time.perf_counter() - started < 0.5


def test_log_records_and_their_tracebacks_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    log = logging.getLogger("petsage.test")
    try:
        raise RuntimeError(f"push to {URL} failed")
    except RuntimeError:
        with caplog.at_level(logging.ERROR):
            log.exception("remote %s refused", URL)
    assert caplog.records
    text = caplog.text
    assert SECRET not in text and "https://***@github.com" in text


def test_the_store_keeps_no_credentials_in_results_or_events(tmp_path: Path) -> None:
    store = BuildStore(tmp_path / "builds.db")
    request = FeatureRequest(feature="smoke_test", description="d")
    record, _ = store.create("b1", request)
    result = BuildResult(id=record.id, status="failed", reasons=[f"push to {URL} failed"])
    result.report = f"# Report\n\nRemote: {URL}\n"
    store.finish(result)
    store.append_event(Failed(build_id="b1", message=f"push to {URL}", status="failed"))
    store.close()
    raw = sqlite3.connect(tmp_path / "builds.db")
    dump = "\n".join(raw.iterdump())
    raw.close()
    assert SECRET not in dump and "https://***@github.com/owner/repo.git" in dump


def test_the_state_lock_names_its_holder_and_is_released(tmp_path: Path) -> None:
    import multiprocessing

    ready, done = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold, args=(tmp_path, ready, done))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(StateLocked, match=f"pid {holder.pid} \\(a service\\)"):
            statelock.acquire(tmp_path, role="another service")
        with pytest.raises(StateLocked):
            statelock.acquire(tmp_path, role="a CLI build", shared=True)
    finally:
        done.set()
        holder.join(10)
    with (
        statelock.holding(tmp_path, role="a CLI build", shared=True),
        statelock.holding(tmp_path, role="re-entrant"),
    ):
        pass
    statelock.acquire(tmp_path, role="a service")
    statelock.release(tmp_path)


def _hold(state: Path, ready: object, done: object) -> None:
    statelock.acquire(state, role="a service")
    ready.set()  # type: ignore[attr-defined]
    done.wait(10)  # type: ignore[attr-defined]
